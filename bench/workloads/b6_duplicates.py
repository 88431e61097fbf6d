"""B6 duplicate check: open reports of the same category within 50 m of a new report's point,
nearest first, on all seeded reports.

Ours is the app's duplicate check `reports.selectors.report_duplicate_ids` as the report form
calls it (through `reports_nearby_public`): one fixed statement (ST_DWithin with a degree radius
on the partial GiST index of open reports `report_open_category_location_gist`, then the metre
distance on the spheroid) prepared on the server once per connection (core.prepared), on Django's
own connection. The naive baseline computes `ST_Distance(geography)` for every open report of the
category and orders by it (one statement on a plain psycopg connection). Same points (1,000
seeded report positions, their own category), same answers (checked), interleaved."""

import random

import psycopg
from django.contrib.gis.geos import Point
from django.db import connection

from bench import core, pgbench
from bench.workloads.b1_geojson import _dsn
from reports.models import Category, Report
from reports.selectors import report_duplicate_ids

NAIVE = """
SELECT id FROM reports_report
WHERE category_id = %s AND status = ANY(%s)
  AND ST_Distance(location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) <= 50
ORDER BY ST_Distance(location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id
"""


def run(run: core.Run, config: dict) -> None:
    rng = random.Random(6)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT ST_X(location), ST_Y(location), category_id FROM reports_report")
        rows = cursor.fetchall()
    sample = [rng.choice(rows) for _ in range(1000)]
    categories = {c.pk: c for c in Category.objects.all()}
    open_statuses = [str(s) for s in Report.OPEN_STATUSES]

    raw = psycopg.connect(_dsn(), autocommit=True, prepare_threshold=0)
    points = [(Point(lon, lat, srid=4326), categories[cat]) for lon, lat, cat in sample]

    def ours_one(i):
        point, category = points[i]
        return sorted(report_duplicate_ids(point=point, category=category, meters=50))

    def naive_one(i):
        lon, lat, cat = sample[i]
        with raw.cursor() as c:
            c.execute(NAIVE, (cat, open_statuses, lon, lat, lon, lat))
            return sorted(r[0] for r in c.fetchall())

    for i in range(20):
        assert ours_one(i) == naive_one(i), f"duplicate check differs at sample {i}"
    for i in range(100):
        ours_one(i)
    order = iter(range(1000))
    lat_ours = core.latencies(lambda: ours_one(next(order)), 1000)
    size = f"{total:,} reports, 50 m, same category"
    core.limit_row(
        run,
        "B6 duplicates",
        size,
        "p99 ms (prepared SQL + round trip)",
        core.percentile(lat_ours, 99) * 1000,
        limit=0.3,
        note=f"p50 {core.percentile(lat_ours, 50) * 1000:.3f} ms",
    )
    n_naive = 30 if config["quick"] else 60
    medians = core.interleaved(
        {
            "ours": lambda: [ours_one(i) for i in range(n_naive * 10)],
            "naive": lambda: [naive_one(i) for i in range(n_naive)],
        }
    )
    per = {"ours": medians["ours"] / (n_naive * 10), "naive": medians["naive"] / n_naive}
    core.ratio_row(
        run,
        "B6 duplicates",
        size,
        "checks/s",
        1 / per["ours"],
        1 / per["naive"],
        goal=300,
        versus="ST_Distance ordering",
    )
    floor = pgbench.run(
        "duplicates.sql", seconds=max(2, config["seconds"] // 2), clients=1, protocol="prepared"
    )
    core.info_row(
        run,
        "B6 duplicates",
        size,
        "pgbench ms/check",
        floor["latency_ms"],
        note="floor: the same statement in pgbench, prepared, 1 client",
    )
    raw.close()
