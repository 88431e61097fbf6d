"""The duplicate check's query (reports_nearby_open) and the partial index behind it."""

import math
import random

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from reports.models import Category, Report
from reports.selectors import report_duplicate_ids, reports_nearby_open
from reports.services import report_create

pytestmark = pytest.mark.django_db

CENTRE = Point(13.7416, 51.0519, srid=4326)  # Frauenkirche
NAIVE = """
SELECT id FROM reports_report
WHERE category_id = %s AND status = ANY(%s)
  AND ST_Distance(location::geography, %s::geography) <= %s
ORDER BY ST_Distance(location::geography, %s::geography), id
"""


def _offset(metres_east: float, metres_north: float) -> Point:
    lat = CENTRE.y + metres_north / 111_320
    lon = CENTRE.x + metres_east / (111_320 * math.cos(math.radians(CENTRE.y)))
    return Point(lon, lat, srid=4326)


@pytest.fixture
def scattered():
    """Reports of two categories and every status within about 120 m of the Frauenkirche."""
    rng = random.Random(6)
    statuses = [s.value for s in Report.Status]
    for i in range(80):
        distance = rng.uniform(0, 120)
        if abs(distance - 50) < 2:  # not on the edge, where sphere and spheroid may differ
            distance += 4
        angle = rng.uniform(0, 2 * math.pi)
        point = _offset(distance * math.cos(angle), distance * math.sin(angle))
        report, _ = report_create(
            category="litter" if i % 2 else "graffiti", location=point, description=f"#{i}"
        )
        Report.objects.filter(pk=report.pk).update(status=statuses[i % len(statuses)])


def _naive(point: Point, category: Category, metres: float) -> list[int]:
    with connection.cursor() as cursor:
        statuses = [str(s) for s in Report.OPEN_STATUSES]
        cursor.execute(NAIVE, [category.pk, statuses, point.ewkt, metres, point.ewkt])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("code", ["litter", "graffiti"])
def test_same_reports_nearest_first_as_the_naive_distance_query(scattered, code):
    category = Category.objects.get(code=code)
    for point in (CENTRE, _offset(30, -20), _offset(-60, 45)):
        ours = list(
            reports_nearby_open(point=point, category=category, meters=50).values_list(
                "id", flat=True
            )
        )
        assert ours == _naive(point, category, 50)
    assert len(ours) > 0


def test_the_query_can_use_the_partial_index_of_open_reports(scattered):
    category = Category.objects.get(code="litter")
    sql, params = (
        reports_nearby_open(point=CENTRE, category=category, meters=50)
        .values_list("id", flat=True)
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        # A few dozen rows: left alone, the planner reads the whole table.
        cursor.execute("ANALYZE reports_report")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # One index answers both conditions: no bitmap of every report of the category ANDed in.
    assert "Scan on report_open_category_location_gist" in plan or (
        "Scan using report_open_category_location_gist" in plan
    ), plan
    index_cond = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "category_id = " in index_cond and "location &&" in index_cond, plan
    assert "BitmapAnd" not in plan, plan


@pytest.mark.parametrize("code", ["litter", "graffiti"])
def test_prepared_duplicate_check_answers_like_the_naive_distance_query(scattered, code):
    category = Category.objects.get(code=code)
    for point in (CENTRE, _offset(30, -20), _offset(-60, 45), _offset(400, 0)):
        assert report_duplicate_ids(point=point, category=category, meters=50) == _naive(
            point, category, 50
        )


def test_duplicate_check_without_prepared_statements_answers_the_same(scattered, settings):
    category = Category.objects.get(code="litter")
    prepared = report_duplicate_ids(point=CENTRE, category=category, meters=50)
    settings.DATABASE_PREPARED = False
    assert report_duplicate_ids(point=CENTRE, category=category, meters=50) == prepared
    assert prepared


def _prepared_on_this_connection() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%ST_DistanceSpheroid%"],
        )
        return cursor.fetchone()[0]


def test_prepared_duplicate_check_survives_pooled_connections_and_failed_transactions(
    dresden_committed, scattered
):
    """With DATABASE_POOL Django hands a pooled psycopg connection back after each request;
    the statement psycopg prepared on it stays usable, also after a rolled-back error."""
    from django.db import DatabaseError, transaction

    category = Category.objects.get(code="graffiti")
    expected = _naive(CENTRE, category, 50)
    for _ in range(3):
        assert report_duplicate_ids(point=CENTRE, category=category, meters=50) == expected
        assert _prepared_on_this_connection() == 1
        connection.close()  # back to the pool (or closed without one)
    with pytest.raises(DatabaseError), transaction.atomic():
        report_duplicate_ids(point=CENTRE, category=category, meters=50)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    assert report_duplicate_ids(point=CENTRE, category=category, meters=50) == expected
