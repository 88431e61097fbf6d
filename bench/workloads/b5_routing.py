"""B5 routing: which district covers a point.

- single lookup: `districts.selectors.district_for_point`, the call the create path makes
  (`report_create` -> `district_for_point`; `report_dispatch` -> `route_compute`), for 1,000
  seeded report positions; p99 of the wall time through the ORM. It tests the app's
  `DistrictPart` table (the boundaries cut along a 1/100 degree grid, then by `ST_Subdivide`;
  kept by a trigger).
- re-routing every report (as after new district boundaries): the app's
  `reports.services.reports_reroute` (one pass over the reports, each finding its parts by grid
  cell in a hash join; only reports that may have moved are looked at again and only changed
  ones written), against the same job done set-based on the full district polygons
  (baseline: compute every report's district, write the changed ones). Both run in a
  transaction that is rolled back, twice: with the boundaries as seeded (nothing moves) and
  after 10% of the reports lost their district (20k rows to write; the reset is not timed).
  The metric is reports examined per second over all of them. Both give the same district to
  every report (checked), by the same border rule (covers, first code wins).
- per-report lookup (the create path's query run for every report): parts vs full polygons."""

import random

from django.contrib.gis.geos import Point
from django.db import connection, transaction

from bench import core, pgbench
from districts.selectors import district_for_point
from reports.services import reports_reroute

# Per-report lookup (what routing each report through the create path's query amounts to).
LATERAL_FULL = """
SELECT count(*), sum(hashint8(r.id) # hashint8(d.district_id)) FROM reports_report r
CROSS JOIN LATERAL (SELECT dd.id AS district_id FROM districts_district dd
                    WHERE ST_Covers(dd.boundary, r.location) ORDER BY dd.code LIMIT 1) d
"""
LATERAL_PARTS = """
SELECT count(*), sum(hashint8(r.id) # hashint8(d.district_id)) FROM reports_report r
CROSS JOIN LATERAL (SELECT p.district_id FROM districts_districtpart p
                    JOIN districts_district dd ON dd.id = p.district_id
                    WHERE ST_Covers(p.geom, r.location) ORDER BY dd.code LIMIT 1) d
"""
# Baseline re-route on the full polygons: each polygon is the outer side, so PostGIS prepares it
# once and tests all the points its index scan finds; a point on a shared border keeps the first
# code; then the reports whose district differs are written.
REROUTE_FULL = """
WITH routed AS (
    SELECT r.id, (array_agg(d.id ORDER BY d.code))[1] AS district_id
    FROM districts_district d JOIN reports_report r ON ST_Covers(d.boundary, r.location)
    GROUP BY r.id
)
UPDATE reports_report r SET district_id = routed.district_id, version = r.version + 1
FROM routed WHERE r.id = routed.id AND r.district_id IS DISTINCT FROM routed.district_id
"""
CHECKSUM = "SELECT sum(hashint8(id) # hashint8(coalesce(district_id, 0))) FROM reports_report"
UNSET = "UPDATE reports_report SET district_id = NULL WHERE id % 10 = 0"


class _Rollback(Exception):
    pass


def _in_rollback(prepare: str | None, job, out: dict, key: str) -> float:
    """Run `job` in a transaction that is rolled back; returns its seconds (prepare untimed)."""
    seconds = 0.0
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                if prepare:
                    cursor.execute(prepare)
            seconds = core.timed(job)
            with connection.cursor() as cursor:
                cursor.execute(CHECKSUM)
                out[key] = cursor.fetchone()[0]
            raise _Rollback
    except _Rollback:
        pass
    return seconds


def run(run: core.Run, config: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM districts_districtpart")
        parts = cursor.fetchone()[0]
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
        note=f"p50 {core.percentile(lat, 50) * 1000:.2f} ms; DistrictPart, {parts} parts",
    )

    def full_sql():
        with connection.cursor() as cursor:
            cursor.execute(REROUTE_FULL)

    checks: dict = {}
    size = f"{total:,} reports, 19 districts ({parts} parts)"
    for label, prepare in (("boundaries unchanged", None), ("10% to move", UNSET)):
        seconds = {"ours": [], "full": []}
        for i in range(core.REPEATS):
            seconds["ours"].append(_in_rollback(prepare, reports_reroute, checks, f"ours{i}"))
            seconds["full"].append(_in_rollback(prepare, full_sql, checks, f"full{i}"))
        assert len(set(checks.values())) == 1, (checks, "re-route variants disagree")
        rate = {k: total / sorted(v)[len(v) // 2] for k, v in seconds.items()}
        run.add(
            core.Row(
                "B5 re-route",
                f"{size}, {label}",
                "reports/s (reports_reroute)",
                rate["ours"],
                goal=">= 500,000",
                ok=rate["ours"] >= 500_000,
                note="app code, in a rolled-back transaction",
            )
        )
        core.ratio_row(
            run,
            "B5 re-route",
            f"{size}, {label}",
            "reports/s",
            rate["ours"],
            rate["full"],
            goal=1.8,
            versus="set-based on full polygons",
        )

    results = {}

    def query(name, sql):
        def go():
            with connection.cursor() as c:
                c.execute(sql)
                results[name] = c.fetchone()

        return go

    medians = core.interleaved(
        {"lateral": query("lateral", LATERAL_FULL), "lateral_parts": query("parts", LATERAL_PARTS)},
        repeats=1 if config["quick"] else core.REPEATS,
    )
    assert len(set(results.values())) == 1, (results, "routing variants disagree")
    rate = {k: total / v for k, v in medians.items()}
    core.ratio_row(
        run,
        "B5 re-route",
        size,
        "reports/s, per-report lookup",
        rate["lateral_parts"],
        rate["lateral"],
        goal=1.8,
        versus="full polygons",
        note="the create path's query for every report",
    )
    floor = pgbench.run("route_point.sql", seconds=max(2, config["seconds"] // 2), clients=1)
    core.info_row(
        run,
        "B5 routing",
        "1 lookup",
        "pgbench ms/lookup (DistrictPart)",
        floor["latency_ms"],
        note="floor: the bare statement, 1 client",
    )
