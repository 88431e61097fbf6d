"""The reports layer's tile grid (core.mvt, reports migration 0012): the generated columns put a
point in exactly the tile `tile_for_point` names at every zoom, and tiles read through the tile
key hold the same features as the plain PostGIS formulation (ST_Transform + ST_AsMVTGeom per
point, merged by Web Mercator arithmetic per cell)."""

import random

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from core.mvt import tile_key_range
from reports.layers import PUBLISHED_SQL, report_tile, report_tile_sql
from reports.models import Category, Report
from reports.tilecache import tile_for_point

pytestmark = pytest.mark.django_db

NEUSTADT = (13.7535, 51.0655)

# What reports.layers built before the tile key: the reference the new queries must match.
PLAIN_POINTS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (SELECT merc, ST_Transform(merc, 4326) AS geo FROM bounds)
SELECT ST_AsMVT(q.*, 'reports', 4096, 'geom', 'id') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(r.public_location, 3857), box.merc, 4096, 64, true) AS geom,
           r.id, c.code AS category, r.status, 1 AS count
    FROM reports_report r JOIN reports_category c ON c.id = r.category_id, box
    WHERE r.public_location && box.geo AND {published}
) q
"""
PLAIN_CELLS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (
    SELECT ST_XMin(merc) AS x0, ST_YMax(merc) AS y1, ST_XMax(merc) - ST_XMin(merc) AS size,
           ST_Transform(merc, 4326) AS geo
    FROM bounds
),
pts AS (
    SELECT r.id, r.status,
           floor((radians(ST_X(r.public_location)) * 6378137.0 - box.x0) / box.size * 32) AS cx,
           floor((box.y1 - ln(tan(pi() / 4 + radians(ST_Y(r.public_location)) / 2)) * 6378137.0)
                 / box.size * 32) AS cy
    FROM reports_report r, box
    WHERE r.public_location && box.geo AND {published}
)
SELECT ST_AsMVT(q.*, 'reports', 4096, 'geom', 'id') FROM (
    SELECT min(id) AS id, count(*) AS count, mode() WITHIN GROUP (ORDER BY status) AS status,
           ST_MakePoint((cx + 0.5) * 128, (cy + 0.5) * 128) AS geom
    FROM pts WHERE cx BETWEEN 0 AND 31 AND cy BETWEEN 0 AND 31
    GROUP BY cx, cy
) q
"""


def _features(tile: bytes) -> dict[int, tuple]:
    layer = mapbox_vector_tile.decode(tile).get("reports", {"features": []})
    return {
        f["id"]: (tuple(sorted(f["properties"].items())), tuple(f["geometry"]["coordinates"]))
        for f in layer["features"]
    }


@pytest.fixture
def scattered():
    """300 reports around the Neustadt (about 2 km), every status and two categories, some
    stacked on the same point, a few waiting for moderation."""
    rng = random.Random(12)
    categories = list(Category.objects.filter(code__in=["litter", "graffiti"]))
    statuses = [s.value for s in Report.Status]
    reports = []
    for i in range(300):
        if i % 10 == 0 and reports:
            point = reports[-1].public_location
        else:
            point = Point(
                NEUSTADT[0] + rng.gauss(0, 0.02), NEUSTADT[1] + rng.gauss(0, 0.012), srid=4326
            )
        reports.append(
            Report(
                location=point,
                public_location=point,
                category=categories[i % 2],
                status=rng.choice(statuses),
                moderation=(
                    Report.Moderation.PENDING if i % 37 == 0 else Report.Moderation.PUBLISHED
                ),
                tracking_token=f"grid-{i}",
            )
        )
    return Report.objects.bulk_create(reports)


def test_a_point_lies_in_the_tile_tile_for_point_names_at_every_zoom():
    rng = random.Random(7)
    points = [(rng.uniform(-180, 180), rng.uniform(-85, 85)) for _ in range(200)]
    points += [(13.7373, 51.0504), (-180.0, 85.1), (179.9999999, -85.1), (0.0, 0.0)]
    with connection.cursor() as cursor:
        for lon, lat in points:
            cursor.execute(
                "SELECT civicmap_tile_x(p), civicmap_tile_y(p), civicmap_tile_key(p)"
                " FROM (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS p) q",
                [lon, lat],
            )
            tx, ty, key = cursor.fetchone()
            for z in range(23):
                _, x, y = tile_for_point(lon, lat, z)
                assert (tx >> (31 - z), ty >> (31 - z)) == (x, y), (lon, lat, z)
                first, last = tile_key_range(z, x, y)
                assert first <= key <= last, (lon, lat, z)


def test_the_generated_columns_follow_the_public_point(scattered):
    report = Report.objects.get(pk=scattered[1].pk)
    _, x, y = tile_for_point(report.public_location.x, report.public_location.y, 16)
    assert (report.tile_x >> 15, report.tile_y >> 15) == (x, y)
    Report.objects.filter(pk=report.pk).update(public_location=Point(*NEUSTADT, srid=4326))
    report.refresh_from_db()
    _, x, y = tile_for_point(*NEUSTADT, 16)
    assert (report.tile_x >> 15, report.tile_y >> 15) == (x, y)


@pytest.mark.parametrize("z", [11, 12, 13, 14, 15, 16, 18])
def test_tiles_hold_the_features_of_the_plain_postgis_formulation(scattered, z):
    sql = (PLAIN_CELLS if z < 14 else PLAIN_POINTS).format(published=PUBLISHED_SQL)
    _, cx, cy = tile_for_point(*NEUSTADT, z)
    seen = 0
    with connection.cursor() as cursor:
        for x in (cx - 1, cx, cx + 1):
            for y in (cy - 1, cy, cy + 1):
                cursor.execute(sql, {"z": z, "x": x, "y": y})
                plain = _features(bytes(cursor.fetchone()[0] or b""))
                # `&&` compares float4 boxes and ST_AsMVTGeom keeps a buffer: the plain query
                # also draws points a few centimetres outside the tile (its neighbour's).
                plain = {pk: f for pk, f in plain.items() if all(0 <= c < 4096 for c in f[1])}
                ours = _features(report_tile(z=z, x=x, y=y))
                assert ours.keys() == plain.keys(), (z, x, y)
                for pk, (properties, (px, py)) in plain.items():
                    assert ours[pk][0] == properties
                    # Rounded by ST_AsMVTGeom, floored by the shifts: within one unit of 4096.
                    ox, oy = ours[pk][1]
                    assert abs(ox - px) <= 1 and abs(oy - py) <= 1, (pk, ours[pk], plain[pk])
                seen += len(plain)
    assert seen > 0


def test_the_tile_query_reads_the_covering_index(scattered):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reports_report")
        # A few hundred rows: left alone, the planner reads the whole table.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        for z in (15, 17):
            _, x, y = tile_for_point(*NEUSTADT, z)
            sql, params = report_tile_sql(z=z, x=x, y=y, public_map=True)
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "using report_tile_key_published" in plan, plan


def test_reports_are_vacuumed_after_one_percent_changed():
    """Tiles read the covering index alone only on pages the visibility map marks all-visible;
    every change clears that mark until a vacuum. reports_report asks autovacuum to come after
    1 % of its rows changed (migration 0014), not after PostgreSQL's default 20 %."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'reports_report'")
        options = dict(option.split("=") for option in cursor.fetchone()[0])

    assert options["autovacuum_vacuum_scale_factor"] == "0.01"
    assert options["autovacuum_vacuum_insert_scale_factor"] == "0.01"
    assert int(options["autovacuum_vacuum_threshold"]) <= 1000
