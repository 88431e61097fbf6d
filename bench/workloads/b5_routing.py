"""B5 routing: which district covers a point.

- single lookup: `districts.selectors.district_for_point`, the call the create path makes
  (`report_create` -> `report_dispatch` -> `route_compute`), for 1,000 seeded report positions;
  p99 of the wall time through the ORM.
- re-routing every report (as after new district boundaries): the district of every seeded
  report computed in one statement, rows/s, with the full district polygons (baseline) and with
  the polygons cut by `ST_Subdivide` into a bench-side table (ours); both give the same district
  for every report (checked), by the same border rule (covers, first code wins). Only the
  computation is timed: writing the (few) rows whose district changed is the same for both."""

import random

from django.contrib.gis.geos import Point
from django.db import connection

from bench import core, pgbench
from districts.selectors import district_for_point

MAX_VERTICES = 64

# Per-report lookup (what routing each report through the create path's query amounts to).
LATERAL_FULL = """
SELECT count(*), sum(hashint8(r.id) # hashint8(d.district_id)) FROM reports_report r
CROSS JOIN LATERAL (SELECT dd.id AS district_id FROM districts_district dd
                    WHERE ST_Covers(dd.boundary, r.location) ORDER BY dd.code LIMIT 1) d
"""
LATERAL_PARTS = """
SELECT count(*), sum(hashint8(r.id) # hashint8(d.district_id)) FROM reports_report r
CROSS JOIN LATERAL (SELECT p.district_id FROM bench_district_parts p
                    WHERE ST_Covers(p.geom, r.location) ORDER BY p.code LIMIT 1) d
"""
# Set-based: each polygon is the outer side, so PostGIS prepares it once and tests all the
# points its index scan finds; a point on a shared border keeps the first code.
BULK = """
SELECT count(*), sum(hashint8(id) # hashint8(district_id)) FROM (
    SELECT r.id, (array_agg(p.{key} ORDER BY p.code))[1] AS district_id
    FROM {table} p JOIN reports_report r ON ST_Covers(p.{geom}, r.location)
    GROUP BY r.id) routed
"""
BULK_FULL = BULK.format(key="id", table="districts_district", geom="boundary")
BULK_PARTS = BULK.format(key="district_id", table="bench_district_parts", geom="geom")


def subdivide() -> int:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_district_parts")
        cursor.execute(
            "CREATE TABLE bench_district_parts AS SELECT id AS district_id, code,"
            f" ST_Subdivide(boundary, {MAX_VERTICES}) AS geom FROM districts_district"
        )
        cursor.execute("CREATE INDEX ON bench_district_parts USING gist (geom)")
        cursor.execute("ANALYZE bench_district_parts")
        cursor.execute("SELECT count(*) FROM bench_district_parts")
        return cursor.fetchone()[0]


def run(run: core.Run, config: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT ST_X(location), ST_Y(location) FROM reports_report ORDER BY id")
        positions = cursor.fetchall()
    rng = random.Random(5)
    sample = [Point(*rng.choice(positions), srid=4326) for _ in range(1000)]
    for p in sample[:50]:
        district_for_point(point=p)
    order = iter(sample)
    lat = core.latencies(lambda: district_for_point(point=next(order)), 1000)
    core.limit_row(
        run,
        "B5 routing",
        f"1 lookup, {total:,} reports",
        "p99 ms (ORM, create path)",
        core.percentile(lat, 99) * 1000,
        limit=1.0,
        note=f"p50 {core.percentile(lat, 50) * 1000:.2f} ms",
    )
    parts = subdivide()
    results = {}

    def query(name, sql):
        def go():
            with connection.cursor() as c:
                c.execute(sql)
                results[name] = c.fetchone()

        return go

    medians = core.interleaved(
        {
            "bulk": query("bulk", BULK_FULL),
            "bulk_parts": query("bulk_parts", BULK_PARTS),
            "lateral": query("lateral", LATERAL_FULL),
            "lateral_parts": query("lateral_parts", LATERAL_PARTS),
        }
    )
    assert len(set(results.values())) == 1, (results, "routing variants disagree")
    size = f"{total:,} reports, 19 districts"
    rate = {k: total / v for k, v in medians.items()}
    run.add(
        core.Row(
            "B5 re-route",
            size,
            "rows/s (set-based)",
            rate["bulk"],
            goal=">= 500,000",
            ok=rate["bulk"] >= 500_000,
        )
    )
    core.ratio_row(
        run,
        "B5 re-route",
        size,
        "rows/s",
        rate["bulk"],
        rate["lateral"],
        goal=1.8,
        versus="per-report lookup, full polygons",
    )
    core.ratio_row(
        run,
        "B5 re-route",
        f"{size} ({parts} parts)",
        "rows/s, per-report lookup",
        rate["lateral_parts"],
        rate["lateral"],
        goal=1.8,
        versus="full polygons",
        note="ST_Subdivide(boundary, 64), bench-side table",
    )
    core.info_row(
        run,
        "B5 re-route",
        f"{size} ({parts} parts)",
        "rows/s set-based, parts",
        rate["bulk_parts"],
        note="subdividing does not help the set-based form",
    )
    floor = pgbench.run("route_point.sql", seconds=max(2, config["seconds"] // 2), clients=1)
    core.info_row(
        run,
        "B5 routing",
        "1 lookup",
        "pgbench ms/lookup (full polygons)",
        floor["latency_ms"],
        note="floor: the bare statement, 1 client",
    )
