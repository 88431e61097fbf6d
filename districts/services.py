import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.text import slugify

from core.validation import model_validate
from districts.coverage import coverage_problems, to_shapely
from districts.models import (
    PART_CELLS_PER_DEGREE,
    PART_MAX_VERTICES,
    Address,
    District,
    DistrictPart,
    ServiceArea,
)
from districts.selectors import district_for_point

logger = logging.getLogger(__name__)

IMPORT_FILE_MISSING = "Boundary file not found: {path}"
IMPORT_FILE_UNREADABLE = (
    "Cannot read {path} as a geodata file (GeoJSON, Shapefile, GeoPackage): {error}"
)
IMPORT_NOT_POLYGON = "Layer '{layer}' holds {geom_type} geometries; districts need polygons."
IMPORT_FIELD_MISSING = "Layer '{layer}' has no field '{field}'. Fields found: {fields}."
IMPORT_EMPTY = "Layer '{layer}' has no features."
IMPORT_NOT_A_COVERAGE = (
    "The district boundaries do not tile the area without gaps or overlaps: {places}. "
    "Fix the boundary file and import it again."
)
PARTS_TOO_FEW_VERTICES = "Parts need at least 5 vertices each (ST_Subdivide), not {n}."


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


_GERMAN = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)


def code_from_name(name: str) -> str:
    """A stable ASCII code for a place name: "Schönfeld-Weißig" -> "schoenfeld-weissig"."""
    return slugify(name.translate(_GERMAN))


def _as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon:
    if geometry.geom_type == "Polygon":
        geometry = MultiPolygon(geometry, srid=geometry.srid)
    if not geometry.valid:
        geometry = geometry.buffer(0)
        if geometry.geom_type == "Polygon":
            geometry = MultiPolygon(geometry, srid=geometry.srid)
    return geometry


def _open_layer(path: Path, layer_index: int):
    if not path.exists():
        raise ValidationError(IMPORT_FILE_MISSING.format(path=path))
    try:
        source = DataSource(str(path))
        layer = source[layer_index]
    except (GDALException, IndexError) as exc:
        raise ValidationError(IMPORT_FILE_UNREADABLE.format(path=path, error=exc)) from exc
    if layer.geom_type.name not in {"Polygon", "MultiPolygon", "Polygon25D", "MultiPolygon25D"}:
        raise ValidationError(
            IMPORT_NOT_POLYGON.format(layer=layer.name, geom_type=layer.geom_type.name)
        )
    if len(layer) == 0:
        raise ValidationError(IMPORT_EMPTY.format(layer=layer.name))
    return source, layer


def _require_field(layer, name: str | None) -> None:
    if name and name not in layer.fields:
        raise ValidationError(
            IMPORT_FIELD_MISSING.format(
                layer=layer.name, field=name, fields=", ".join(layer.fields)
            )
        )


def _geometry_4326(feature) -> MultiPolygon:
    geometry = feature.geom
    # GeoJSON without a CRS member is WGS 84 by definition (RFC 7946).
    if geometry.srs is not None and geometry.srid != 4326:
        geometry.transform(4326)
    geos = geometry.geos
    geos.srid = 4326
    return _as_multipolygon(geos)


def _check_coverage(layer, name_field: str) -> None:
    """Refuse boundaries that overlap, whose shared edges differ, or that enclose a gap: a report
    there would get two districts, or none. Checked before anything is written."""
    named = [
        (str(feature.get(name_field)).strip(), to_shapely(_geometry_4326(feature)))
        for feature in layer
    ]
    problems = coverage_problems(named)
    if problems:
        raise ValidationError(IMPORT_NOT_A_COVERAGE.format(places="; ".join(problems)))


@transaction.atomic
def district_import(
    *,
    path: Path,
    name_field: str = "name",
    code_field: str | None = None,
    kind_field: str | None = None,
    parent_field: str | None = None,
    layer_index: int = 0,
    commit: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Create or update one District per feature, keyed by code (idempotent)."""
    _source, layer = _open_layer(Path(path), layer_index)
    for name in (name_field, code_field, kind_field, parent_field):
        _require_field(layer, name)
    _check_coverage(layer, name_field)
    result = ImportResult()
    total = len(layer)
    for number, feature in enumerate(layer, start=1):
        name = str(feature.get(name_field)).strip()
        code = code_from_name(str(feature.get(code_field)) if code_field else name)
        values = {
            "name": name,
            "kind": str(feature.get(kind_field) or "") if kind_field else "",
            "parent_name": str(feature.get(parent_field) or "") if parent_field else "",
            "boundary": _geometry_4326(feature),
        }
        existing = District.objects.filter(code=code).first()
        if existing is None:
            District.objects.create(code=code, **values)
            result.created.append(name)
        elif (
            existing.name == values["name"]
            and existing.kind == values["kind"]
            and existing.parent_name == values["parent_name"]
            and existing.boundary.equals_exact(values["boundary"], 1e-9)
        ):
            result.unchanged.append(name)
        else:
            for key, value in values.items():
                setattr(existing, key, value)
            model_validate(existing)
            existing.save()
            result.updated.append(name)
        if progress:
            progress(number, total, name)
    if not commit:
        transaction.set_rollback(True)
    logger.info(
        "district import %s: %d created, %d updated, %d unchanged",
        path,
        len(result.created),
        len(result.updated),
        len(result.unchanged),
    )
    return result


@transaction.atomic
def district_parts_rebuild(*, max_vertices: int = PART_MAX_VERTICES) -> int:
    """Cut every district boundary into parts again (grid cells, then `ST_Subdivide`); returns
    the part count.

    Saving a district keeps its parts current by itself (a trigger, migrations 0003/0004); this is
    for repairs and for trying another `max_vertices`.
    """
    if max_vertices < 5:
        raise ValidationError(PARTS_TOO_FEW_VERTICES.format(n=max_vertices))
    DistrictPart.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO districts_districtpart (district_id, geom, cell_x, cell_y, whole_cell)
            SELECT district.id, piece, piece_x, piece_y, piece_whole
            FROM districts_district AS district
            CROSS JOIN LATERAL districts_part_pieces(district.boundary, %s, %s)
            """,
            [max_vertices, PART_CELLS_PER_DEGREE],
        )
        cursor.execute("ANALYZE districts_districtpart")
    return DistrictPart.objects.count()


@transaction.atomic
def service_area_import(
    *, path: Path, code: str, name: str, layer_index: int = 0, commit: bool = True
) -> tuple[ServiceArea, bool]:
    """Store the union of all polygons of a layer as the service area `code`."""
    _source, layer = _open_layer(Path(path), layer_index)
    union = None
    for feature in layer:
        geometry = _geometry_4326(feature)
        union = geometry if union is None else union.union(geometry)
    area, created = ServiceArea.objects.update_or_create(
        code=code, defaults={"name": name, "boundary": _as_multipolygon(union)}
    )
    if not commit:
        transaction.set_rollback(True)
    return area, created


ADDRESS_FILE_MISSING = "Address file not found: {path}"
ADDRESS_COLUMNS_MISSING = (
    "The address file lacks the column(s) {missing}. Columns found: {found}. "
    "Expected street, house_number, postcode, lat, lon (German names such as strasse, "
    "hausnummer, plz, breite, laenge are understood too)."
)
ADDRESS_ROW_INVALID = "line {line}: {problem}"

# Accepted column names (lower-case) for each field: English and common German spellings.
ADDRESS_COLUMNS = {
    "street": ("street", "strasse", "straße", "str", "strassenname", "straßenname"),
    "house_number": ("house_number", "housenumber", "hausnummer", "hnr", "hsnr", "nr"),
    "postcode": ("postcode", "zip", "zipcode", "plz", "postleitzahl"),
    "lat": ("lat", "latitude", "breite", "y"),
    "lon": ("lon", "lng", "long", "longitude", "laenge", "länge", "x"),
}
ADDRESS_OPTIONAL = {"postcode"}


@dataclass
class AddressImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _address_columns(header: list[str]) -> dict[str, str]:
    lowered = {name.strip().lower(): name for name in header}
    columns, missing = {}, []
    for key, names in ADDRESS_COLUMNS.items():
        found = next((lowered[n] for n in names if n in lowered), None)
        if found is None and key not in ADDRESS_OPTIONAL:
            missing.append(key)
        columns[key] = found
    if missing:
        raise ValidationError(
            ADDRESS_COLUMNS_MISSING.format(missing=", ".join(missing), found=", ".join(header))
        )
    return columns


def _coordinate(raw: str) -> float:
    # German CSV exports often write decimals with a comma.
    return float(raw.strip().replace(",", "."))


@transaction.atomic
def address_import(
    *,
    path: Path,
    commit: bool = True,
    progress: Callable[[int, str], None] | None = None,
    progress_every: int = 1000,
) -> AddressImportResult:
    """Create or update addresses from a CSV with coordinates (WGS 84), keyed by street, house
    number and postcode (idempotent). Bad rows are reported by line and skipped; each address is
    given the district that covers it."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(ADDRESS_FILE_MISSING.format(path=path))
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = _address_columns(reader.fieldnames or [])
    existing = {
        (a.street, a.house_number, a.postcode): a
        for a in Address.objects.all().only("id", "street", "house_number", "postcode", "location")
    }
    result = AddressImportResult()
    for line, row in enumerate(reader, start=2):
        street = (row.get(columns["street"]) or "").strip()
        number = (row.get(columns["house_number"]) or "").strip()
        postcode = (row.get(columns["postcode"]) or "").strip() if columns["postcode"] else ""
        try:
            lat = _coordinate(row.get(columns["lat"]) or "")
            lon = _coordinate(row.get(columns["lon"]) or "")
        except ValueError:
            result.errors.append(
                ADDRESS_ROW_INVALID.format(line=line, problem="latitude/longitude is not a number")
            )
            continue
        if not street or not number:
            result.errors.append(
                ADDRESS_ROW_INVALID.format(line=line, problem="street or house number is empty")
            )
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            result.errors.append(
                ADDRESS_ROW_INVALID.format(
                    line=line, problem=f"coordinates out of range ({lat}, {lon}); lat/lon swapped?"
                )
            )
            continue
        point = Point(lon, lat, srid=4326)
        district = district_for_point(point=point)
        if district is None:
            result.errors.append(
                ADDRESS_ROW_INVALID.format(
                    line=line, problem=f"({lat}, {lon}) lies in no district; lat/lon swapped?"
                )
            )
            continue
        address = existing.get((street, number, postcode))
        if address is None:
            address = Address.objects.create(
                street=street,
                house_number=number,
                postcode=postcode,
                location=point,
                district=district,
            )
            existing[(street, number, postcode)] = address
            result.created += 1
        elif address.location.equals_exact(point, 1e-7):
            result.unchanged += 1
        else:
            address.location = point
            address.district = district
            address.save(update_fields=["location", "district", "updated_at"])
            result.updated += 1
        if progress and (line - 1) % progress_every == 0:
            progress(line - 1, f"{street} {number}")
    if not commit:
        transaction.set_rollback(True)
    logger.info(
        "address import %s: %d created, %d updated, %d unchanged, %d errors",
        path,
        result.created,
        result.updated,
        result.unchanged,
        len(result.errors),
    )
    return result
