"""Statistics against a hand-computed fixture in two unit-square districts."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point

from crews.models import Assignment
from crews.stats import StatsFilter, stats_by_district, stats_summary, stats_weekly
from reports.models import Report
from reports.services import report_create
from tests.factories import CategoryFactory, CrewFactory

pytestmark = pytest.mark.django_db
B = ZoneInfo("Europe/Berlin")
WEST, EAST = Point(0.5, 0.5, srid=4326), Point(1.5, 0.5, srid=4326)
NOW = datetime(2026, 11, 20, 12, tzinfo=B)


def _at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=B)


@pytest.fixture
def world(squares):
    category = CategoryFactory(code="st")
    crew = CrewFactory(code="st-crew")
    rows = [
        # (name, where, created, due, closed, status)
        ("on_time_24h", WEST, _at(2), _at(4), _at(3), "cleared"),
        ("at_deadline_48h", WEST, _at(3), _at(5), _at(5), "cleared"),  # exactly at the deadline
        ("late_72h", WEST, _at(4), _at(5), _at(7), "cleared"),
        ("on_time_12h", EAST, _at(5), _at(6), _at(5, 22), "cleared"),
        ("open_late", EAST, _at(6), _at(7), None, "assigned"),
        ("open_on_time", EAST, _at(7), _at(30), None, "assigned"),
        ("rejected", EAST, _at(8), _at(10), _at(8, 12), "rejected"),
        ("before_period_late", WEST, _at(20, month=10), _at(22, month=10), None, "new"),
    ]
    made = {}
    for name, where, created, due, closed, status in rows:
        report, _ = report_create(category=category, location=where)
        Report.objects.filter(pk=report.pk).update(
            created_at=created, due_at=due, closed_at=closed, status=status
        )
        made[name] = report
    for name in ("on_time_24h", "open_late"):
        Assignment.objects.create(report=made[name], crew=crew, due_at=made[name].due_at or NOW)
    return made


def test_summary_matches_the_hand_computed_figures(world):
    summary = stats_summary(f=StatsFilter(start=date(2026, 11, 2), end=date(2026, 11, 15)), now=NOW)
    assert summary["received"] == 7
    assert summary["cleared"] == 4
    assert summary["cleared_on_time"] == 3  # 24 h, exactly at the deadline, 12 h
    assert summary["share_on_time"] == pytest.approx(0.75)
    assert summary["late"] == 2  # cleared after the deadline + open past it
    # times to clear 12, 24, 48, 72 h: median (24+48)/2, p90 48 + 0.7 * 24
    assert summary["median_hours"] == pytest.approx(36)
    assert summary["p90_hours"] == pytest.approx(64.8)
    # Now-figure: every open late ticket, also the one received before the period.
    assert summary["currently_late"] == 2


def test_per_district_rows_for_the_choropleth(world):
    rows = {
        r["code"]: r
        for r in stats_by_district(
            f=StatsFilter(start=date(2026, 11, 2), end=date(2026, 11, 15)), now=NOW
        )
    }
    west, east = rows["a-west"], rows["b-east"]
    assert (west["received"], west["cleared"], west["cleared_on_time"], west["late"]) == (
        3,
        3,
        2,
        1,
    )
    assert west["share_late"] == pytest.approx(1 / 3)
    assert (east["received"], east["cleared"], east["cleared_on_time"], east["late"]) == (
        4,
        1,
        1,
        1,
    )
    assert east["share_on_time"] == 1.0 and east["share_late"] == pytest.approx(0.25)


def test_weekly_series_fills_empty_weeks(world):
    weeks = stats_weekly(f=StatsFilter(start=date(2026, 11, 2), end=date(2026, 11, 15)), now=NOW)
    assert [(w["week"], w["received"], w["cleared"], w["cleared_on_time"]) for w in weeks] == [
        (date(2026, 11, 2), 7, 4, 3),
        (date(2026, 11, 9), 0, 0, 0),
    ]


def test_filters_by_district_category_and_crew(world):
    period = {"start": date(2026, 11, 2), "end": date(2026, 11, 15)}
    by_crew = stats_summary(f=StatsFilter(**period, crew="st-crew"), now=NOW)
    assert (by_crew["received"], by_crew["cleared"], by_crew["late"]) == (2, 1, 1)
    by_district = stats_summary(f=StatsFilter(**period, district="b-east"), now=NOW)
    assert by_district["received"] == 4 and by_district["currently_late"] == 1
    other = stats_summary(f=StatsFilter(**period, category="litter"), now=NOW)
    assert other["received"] == 0 and other["share_on_time"] is None
    # The last day of the period is included (local time).
    one_day = stats_summary(f=StatsFilter(start=date(2026, 11, 8), end=date(2026, 11, 8)), now=NOW)
    assert one_day["received"] == 1


def test_period_presets_are_whole_local_days_ending_today():
    from crews.stats import PERIOD_PRESETS, period_preset

    today = date(2026, 3, 15)
    assert period_preset("last_month", today=today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_preset("this_month", today=today) == (date(2026, 3, 1), today)
    assert period_preset("last_30", today=today) == (date(2026, 2, 14), today)
    assert period_preset("last_365", today=today) == (date(2025, 3, 16), today)
    assert set(PERIOD_PRESETS) == {"last_month", "this_month", "last_30", "last_365"}


def test_api_and_page_read_the_same_preset(dispatcher):
    from django.test import Client
    from django.utils import timezone
    from rest_framework.test import APIClient

    from crews.stats import period_preset

    api = APIClient()
    api.force_authenticate(dispatcher)
    answer = api.get("/api/v1/dispatch/stats/", {"preset": "last_month"}).json()
    start, end = period_preset("last_month", today=timezone.localdate())
    assert answer["period"] == {"start": start.isoformat(), "end": end.isoformat()}
    page = Client()
    page.force_login(dispatcher)
    html = page.get("/dispatch/stats/", {"preset": "last_month"}).content.decode()
    assert start.isoformat() in html and end.isoformat() in html
    assert api.get("/api/v1/dispatch/stats/", {"preset": "yesterday"}).status_code == 400
