"""DistrictPart: the subdivided boundaries routing uses, kept current by the database."""

import json
import random
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from districts.models import PART_CELLS_PER_DEGREE, PART_MAX_VERTICES, District, DistrictPart
from districts.selectors import district_for_point
from districts.services import district_import, district_parts_rebuild

pytestmark = pytest.mark.django_db

DISTRICTS = settings.BASE_DIR / "fixtures" / "dresden_districts.geojson"
# Dresden's extent with a margin, so some random points fall outside every district.
BBOX = (13.57, 50.96, 13.97, 51.18)


def _full_polygon_answer(point: Point) -> str | None:
    """The reference: the full boundaries, the same rule (covers, first code)."""
    district = District.objects.filter(boundary__covers=point).order_by("code").first()
    return district.code if district else None


def _parts_answer(point: Point) -> str | None:
    district = district_for_point(point=point)
    return district.code if district else None


def _parts_stats() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.code, count(p.id), max(ST_NPoints(p.geom)),
                   ST_Area(ST_SymDifference(d.boundary, ST_Union(p.geom)))
            FROM districts_district d LEFT JOIN districts_districtpart p ON p.district_id = d.id
            GROUP BY d.id
            """
        )
        return {code: rest for code, *rest in cursor.fetchall()}


def test_every_imported_district_is_tiled_exactly_by_small_parts():
    stats = _parts_stats()
    assert len(stats) == 19
    for code, (count, max_points, area_gap) in stats.items():
        # Real boundaries have about 300 to 3,500 vertices: each is cut into several parts.
        assert count > 1, code
        assert max_points <= PART_MAX_VERTICES, code
        # Together the parts are the district (up to the rounding of the cut points).
        assert area_gap < 1e-12, code


def test_random_points_route_as_with_the_full_polygons():
    rng = random.Random(8)
    points = [
        Point(rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3]), srid=4326)
        for _ in range(600)
    ]
    answers = [(_parts_answer(p), _full_polygon_answer(p)) for p in points]
    assert all(ours == reference for ours, reference in answers)
    # The sample really exercises the question: many districts, and points outside all of them.
    found = {ours for ours, _ in answers}
    assert None in found and len(found - {None}) >= 15


def test_points_on_borders_route_as_with_the_full_polygons():
    # Every vertex of a boundary lies exactly on it: on a border shared with a neighbour or on
    # the city's outer edge. Some of them are also corners of parts.
    rng = random.Random(88)
    points = []
    for district in District.objects.all():
        coords = [c for polygon in district.boundary for ring in polygon for c in ring]
        points += [Point(*c, srid=4326) for c in rng.sample(coords, 40)]
    mismatches = [p for p in points if _parts_answer(p) != _full_polygon_answer(p)]
    assert mismatches == []
    shared = [p for p in points if District.objects.filter(boundary__covers=p).count() > 1]
    assert len(shared) > 20, "the sample holds points on shared borders"


def test_points_where_the_cuts_meet_a_border_get_a_district_touching_them():
    # Where a cut line meets a boundary edge, ST_Subdivide computes a new corner that lies on
    # the edge only up to floating-point rounding (about 1e-15 degrees, nanometres). Exactly
    # there, parts and full polygons may disagree; the answer must still be a district that
    # touches the point, and it must be stable.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ST_X(pt), ST_Y(pt) FROM (SELECT (ST_DumpPoints(geom)).geom AS pt"
            " FROM districts_districtpart) corners ORDER BY 1, 2"
        )
        corners = [Point(x, y, srid=4326) for x, y in cursor.fetchall()]
    sample = random.Random(89).sample(corners, 1500)
    differing = [p for p in sample if _parts_answer(p) != _full_polygon_answer(p)]
    assert len(differing) < len(sample) // 50
    for point in differing:
        touching = District.objects.filter(boundary__dwithin=(point, 1e-9))
        assert _parts_answer(point) in set(touching.values_list("code", flat=True))


def test_covering_lists_each_district_once_in_code_order():
    altstadt = District.objects.get(code="altstadt").boundary
    neustadt = District.objects.get(code="neustadt").boundary
    on_border = altstadt.intersection(neustadt).point_on_surface
    assert list(District.objects.covering(on_border).values_list("code", flat=True)) == [
        "altstadt",
        "neustadt",
    ]
    outside = Point(13.0, 52.0, srid=4326)
    assert district_for_point(point=outside) is None


def _import(path, **kwargs):
    return district_import(
        path=path, name_field="name", kind_field="art", parent_field="stadtbezirk", **kwargs
    )


def test_reimport_with_a_new_boundary_replaces_the_parts(tmp_path):
    altstadt = District.objects.get(code="altstadt")
    old_parts = set(altstadt.parts.values_list("id", flat=True))
    other_parts = set(DistrictPart.objects.exclude(district=altstadt).values_list("id", flat=True))
    frauenkirche = Point(13.7416, 51.0519, srid=4326)
    assert district_for_point(point=frauenkirche).code == "altstadt"

    data = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    for feature in data["features"]:
        if feature["properties"]["name"] == "Altstadt":
            # Altstadt shrinks to a small square in the Großer Garten.
            square = [[13.76, 51.035], [13.77, 51.035], [13.77, 51.04], [13.76, 51.04]]
            feature["geometry"] = {"type": "Polygon", "coordinates": [square + [square[0]]]}
    # Alone in its file: with its 18 neighbours the square would leave a gap, which the import
    # refuses (tests/districts/test_coverage.py).
    data["features"] = [f for f in data["features"] if f["properties"]["name"] == "Altstadt"]
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _import(path)
    assert result.updated == ["Altstadt"] and result.unchanged == []

    new_parts = list(altstadt.parts.all())
    assert len(new_parts) == 1 and not old_parts & {p.id for p in new_parts}
    assert new_parts[0].geom.equals(Polygon.from_bbox((13.76, 51.035, 13.77, 51.04)))
    # The square lies in one grid cell (13.76..13.77 x 51.03..51.04) and fills half of it.
    assert _cells(altstadt) == {(1376, 5103, False)}
    # The other districts' parts were left alone.
    assert set(DistrictPart.objects.exclude(district=altstadt).values_list("id", flat=True)) == (
        other_parts
    )
    assert _parts_answer(frauenkirche) == _full_polygon_answer(frauenkirche) != "altstadt"
    assert district_for_point(point=Point(13.765, 51.0375, srid=4326)).code == "altstadt"


def test_unchanged_reimport_keeps_the_parts():
    before = set(DistrictPart.objects.values_list("id", flat=True))
    call_command(
        "districts_import",
        str(DISTRICTS),
        "--kind-field",
        "art",
        "--parent-field",
        "stadtbezirk",
        "--commit",
        stdout=StringIO(),
    )
    assert set(DistrictPart.objects.values_list("id", flat=True)) == before


def test_command_reminds_to_reroute_after_a_change(tmp_path):
    data = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["name"] == "Weixdorf"]
    District.objects.filter(code="weixdorf").delete()
    path = tmp_path / "weixdorf.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = StringIO()
    call_command("districts_import", str(path), "--commit", stdout=out)
    assert "1 created" in out.getvalue() and "reports_reroute" in out.getvalue()
    assert District.objects.get(code="weixdorf").parts.count() > 1


def _cells(district: District) -> set[tuple[int, int, bool]]:
    return set(district.parts.values_list("cell_x", "cell_y", "whole_cell"))


def test_any_write_keeps_the_parts_current(squares):
    west, east = squares
    # The unit square is cut into whole grid cells of 1/100 degree.
    grid = PART_CELLS_PER_DEGREE
    assert _cells(west) == {(x, y, True) for x in range(grid) for y in range(grid)}
    west.boundary = MultiPolygon(Polygon.from_bbox((0, 0, 0.5, 1)), srid=4326)
    west.save()
    assert _cells(west) == {(x, y, True) for x in range(grid // 2) for y in range(grid)}
    assert district_for_point(point=Point(0.75, 0.5, srid=4326)) is None
    assert district_for_point(point=Point(1, 0.5, srid=4326)) == east
    east_id = east.pk
    east.delete()
    assert not DistrictPart.objects.filter(district_id=east_id).exists()


def test_rebuild_with_other_sizes_gives_the_same_answers():
    rng = random.Random(9)
    points = [
        Point(rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3]), srid=4326)
        for _ in range(150)
    ]
    before = [_parts_answer(p) for p in points]
    default = DistrictPart.objects.count()
    assert district_parts_rebuild(max_vertices=16) > default
    assert [_parts_answer(p) for p in points] == before
    assert district_parts_rebuild() == default
    with pytest.raises(ValidationError):
        district_parts_rebuild(max_vertices=3)
