import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import shapely
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Length

from core.db_router import read_alias
from districts.coverage import coverage_simplified, to_shapely
from districts.models import Address, District, ServiceArea


@lru_cache(maxsize=1)
def _district_for_point_sql() -> str:
    """The SQL of `District.objects.covering(point).defer("boundary").first()`, compiled once:
    compiling that queryset (with its subquery) on every call costs the ORM several times what
    the database needs to answer. The rule stays written once, in `covering`."""
    probe = District.objects.covering(Point(0, 0, srid=4326)).defer("boundary")[:1]
    sql, params = probe.query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
    if len(params) != 1:  # the point is the only parameter; anything else would be misread
        raise ImproperlyConfigured(f"district_for_point: unexpected parameters {params!r}")
    return sql


def district_for_point(*, point: Point) -> District | None:
    """The district covering `point` (on a shared border: the first by code), or None.

    The create path's lookup: the subdivided parts (DistrictPart) answer it with one small
    index probe, and the boundary (thousands of vertices, never needed by the caller) is not
    loaded (deferred on the instance).
    """
    if point.srid is None:  # as the ORM does: the column's SRID
        point = point.clone()
        point.srid = 4326
    elif point.srid != 4326:
        point = point.transform(4326, clone=True)
    found = District.objects.raw(_district_for_point_sql(), [connection.ops.Adapter(point)])
    return next(iter(found), None)


def point_in_service_area(*, point: Point) -> bool:
    """True when the point lies in the service area; with no area loaded, any district counts."""
    if ServiceArea.objects.exists():
        return ServiceArea.objects.filter(boundary__covers=point).exists()
    return district_for_point(point=point) is not None


def district_list() -> QuerySet[District]:
    return District.objects.order_by("name")


def district_get(*, code: str) -> District | None:
    return District.objects.filter(code=code).first()


def districts_geojson(*, tolerance: float = 0.0001) -> str:
    """All districts as one GeoJSON FeatureCollection (properties code, name, kind), simplified
    for maps (0.0001° ≈ 7–11 m here, invisible at city zoom and a fraction of the bytes).

    Simplified together as a coverage (shapely), not one by one: neighbours keep sharing every
    edge, so the outlines never gap or overlap at low zoom. Rings follow RFC 7946's right-hand
    rule (exterior counter-clockwise, holes clockwise) whatever order the source drew them in."""
    rows = list(District.objects.order_by("name").values_list("code", "name", "kind", "boundary"))
    simplified = coverage_simplified(
        [to_shapely(boundary) for *_, boundary in rows], tolerance=tolerance
    )
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(
                shapely.to_geojson(shapely.orient_polygons(geometry, exterior_cw=False))
            ),
            "properties": {"code": code, "name": name, "kind": kind},
        }
        for (code, name, kind, _), geometry in zip(rows, simplified, strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def districts_version() -> tuple[int, datetime | None]:
    """Count and newest change of the districts: what the outlines' ETag says."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute("SELECT count(*), max(updated_at) FROM districts_district")
        count, newest = cursor.fetchone()
    return count, newest


def district_choices() -> list[dict]:
    """Each district with a point surely inside it, for choosing a place without a map."""
    rows = District.objects.annotate(inside=PointOnSurface("boundary")).order_by("name")
    return [
        {"code": d.code, "name": d.name, "lat": round(d.inside.y, 6), "lon": round(d.inside.x, 6)}
        for d in rows
    ]


def addresses_exist() -> bool:
    return Address.objects.exists()


_STREET_ABBREVIATION = re.compile(r"(str)\.?$|(str)\.?(?=\s)", re.IGNORECASE)
_QUERY = re.compile(r"^\s*(?P<street>.*?[^\d\s,])[\s,]*(?P<number>\d+\s*[a-zA-Z]?)?\s*$")


def address_search(*, query: str, limit: int = 10) -> QuerySet[Address]:
    """Addresses for "Königsbrücker Str. 12" style input: the street by prefix (case-insensitive,
    "Str." expanded), the house number by prefix when one is given."""
    match = _QUERY.match(query or "")
    if match is None or len(match["street"].strip()) < 3:
        return Address.objects.none()
    street = match["street"].strip()
    number = (match["number"] or "").replace(" ", "")
    streets = {street, _STREET_ABBREVIATION.sub("straße", street)}
    condition = None
    for variant in streets:
        term = Q(street__istartswith=variant)
        condition = term if condition is None else condition | term
    found = Address.objects.filter(condition).select_related("district")
    if not found.exists():
        # A typo ("Königsbrüker Strase"): the streets that look most like what was typed.
        similar = streets_similar(query=street)
        if not similar:
            return Address.objects.none()
        found = Address.objects.filter(street__in=similar).select_related("district")
    if number:
        found = found.filter(house_number__istartswith=number)
    # Natural house-number order: 2 before 10.
    return found.order_by("street", Length("house_number"), "house_number", "postcode")[:limit]


# pg_trgm's default similarity threshold for `%` is 0.3; street names share "straße", so a
# little stricter keeps "Alaunstraße" from matching every other "...straße".
STREET_SIMILARITY = 0.35

_STREETS_SIMILAR = """
SELECT street, max(similarity(street, %(q)s)) AS s FROM districts_address
WHERE street %% %(q)s GROUP BY street HAVING max(similarity(street, %(q)s)) >= %(min)s
ORDER BY s DESC, street LIMIT %(limit)s
"""


def streets_similar(*, query: str, limit: int = 3) -> list[str]:
    """Street names that look like `query` despite typos (trigram similarity, index `%`)."""
    query = (query or "").strip()
    if len(query) < 3:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_STREETS_SIMILAR, {"q": query, "min": STREET_SIMILARITY, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


# "The nearest address within about 50 m, else the street, else the district": how far an
# address may be to name the place, and how far its street may be to name it instead.
PLACE_ADDRESS_METERS = 50
PLACE_STREET_METERS = 150


@dataclass(frozen=True)
class Place:
    """What to call a point: "Alaunstraße 36", "Alaunstraße" or "Neustadt"."""

    name: str
    kind: str  # "address", "street", "district" or "" (nothing known)
    meters: float | None = None


# KNN: `<->` orders by distance using the GiST index on location (planar degrees); the few
# nearest are then measured on the spheroid, so the 50 m rule is in real metres.
_NEAREST_ADDRESSES = """
SELECT street, house_number, ST_Distance(location::geography, %(p)s::geography) AS m
FROM districts_address ORDER BY location <-> %(p)s LIMIT 8
"""


def place_for_point(*, point: Point, district: District | None = None) -> Place:
    """Name the place of `point` for people: the nearest address within PLACE_ADDRESS_METERS,
    else the nearest address's street within PLACE_STREET_METERS, else the district."""
    if point.srid is None:
        point = point.clone()
        point.srid = 4326
    elif point.srid != 4326:
        point = point.transform(4326, clone=True)
    with connection.cursor() as cursor:
        cursor.execute(_NEAREST_ADDRESSES, {"p": connection.ops.Adapter(point)})
        rows = sorted(cursor.fetchall(), key=lambda row: row[2])
    if rows:
        street, number, meters = rows[0]
        if meters <= PLACE_ADDRESS_METERS:
            return Place(name=f"{street} {number}", kind="address", meters=meters)
        if meters <= PLACE_STREET_METERS:
            return Place(name=street, kind="street", meters=meters)
    district = district or district_for_point(point=point)
    if district is not None:
        return Place(name=district.name, kind="district")
    return Place(name="", kind="")
