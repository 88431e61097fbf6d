from datetime import date, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone

from crews.hotspots import hotspot_crew, hotspots_find, preventive_task_create, preventive_task_done
from crews.selectors import preventive_tasks_due
from reports.models import Report
from reports.services import report_create

pytestmark = pytest.mark.django_db

# About 11 m per 0.0001° of latitude and 7 m per 0.0001° of longitude in Dresden.
ALAUNPARK = (13.7535, 51.0655)  # Neustadt
ALTMARKT = (13.7383, 51.0504)  # Altstadt


def _report(lon: float, lat: float, days_ago: int = 3, category: str = "litter") -> Report:
    report, _ = report_create(category=category, location=Point(lon, lat, srid=4326))
    Report.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return report


@pytest.fixture
def corners():
    big = [
        _report(ALAUNPARK[0] + dx, ALAUNPARK[1] + dy)
        for dx, dy in [(0, 0), (0.0002, 0), (0, 0.0002), (0.0003, 0.0002), (0.0001, 0.0003)]
    ]
    small = [
        _report(ALTMARKT[0] + dx, ALTMARKT[1] + dy, category="glass")
        for dx, dy in [(0, 0), (0.0003, 0.0001), (0.0001, 0.0003)]
    ]
    noise = [
        _report(13.70, 51.05),
        _report(13.80, 51.03),
        _report(ALTMARKT[0] + 0.004, ALTMARKT[1]),  # ~280 m away: too far to join
    ]
    old = _report(ALTMARKT[0], ALTMARKT[1] + 0.0001, days_ago=200)  # outside the period
    return big, small, noise, old


def _find(**kwargs):
    now = timezone.now()
    return hotspots_find(start=now - timedelta(days=30), end=now, **kwargs)


def test_two_known_clusters_are_found_and_ranked_and_noise_is_left_out(corners):
    big, small, noise, old = corners
    spots = _find(radius_m=50, min_count=3)
    assert len(spots) == 2
    first, second = spots
    assert (first.rank, first.count, sorted(first.report_ids)) == (1, 5, sorted(r.pk for r in big))
    assert (second.count, sorted(second.report_ids)) == (3, sorted(r.pk for r in small))
    clustered = set(first.report_ids) | set(second.report_ids)
    assert not clustered & {r.pk for r in [*noise, old]}
    assert first.district == "neustadt" and first.category == "litter"
    assert second.district == "altstadt" and second.category == "glass"
    assert first.center.distance(Point(*ALAUNPARK, srid=4326)) < 0.0005
    assert 0 < first.radius_m < 50


def test_a_stricter_minimum_or_a_smaller_radius_leaves_fewer_hotspots(corners):
    assert [s.count for s in _find(radius_m=50, min_count=4)] == [5]
    assert _find(radius_m=5, min_count=3) == []
    with pytest.raises(ValidationError):
        _find(radius_m=1, min_count=3)


def test_a_hotspot_becomes_a_recurring_task_for_its_crew(corners):
    spot = _find(radius_m=50, min_count=3)[0]
    assert hotspot_crew(center=spot.center, category=spot.category).code == "nord"
    task = preventive_task_create(
        center=spot.center,
        radius_m=spot.radius_m,
        category=spot.category,
        report_count=spot.count,
        actor=None,
        interval_days=7,
        first_on=date(2026, 12, 1),
    )
    assert task.crew.code == "nord" and task.district.code == "neustadt"
    assert task.report_count == 5 and task.category.code == "litter"
    assert list(preventive_tasks_due(on=date(2026, 11, 30))) == []
    assert list(preventive_tasks_due(on=date(2026, 12, 1))) == [task]
    done_at = timezone.make_aware(timezone.datetime(2026, 12, 1, 9))
    task = preventive_task_done(task=task, now=done_at)
    assert task.next_due_on == date(2026, 12, 8)
    with pytest.raises(ValidationError):
        preventive_task_create(
            center=spot.center,
            radius_m=10,
            category=None,
            report_count=1,
            actor=None,
            interval_days=0,
        )
