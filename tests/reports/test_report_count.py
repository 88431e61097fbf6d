"""The kept report counts (`ReportCount`, kept by triggers) stay exact whatever writes the rows,
and the pages that read them show what counting the rows would."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from crews.dispatch import dispatch_merge
from crews.services import report_dispatch
from reports.models import Report, ReportCount
from reports.selectors import (
    reports_count,
    reports_public_map,
    reports_public_map_count,
)
from reports.services import report_create, report_moderate, report_transition
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db
S = Report.Status


def _report(point: Point = NEUSTADT_POINT) -> Report:
    report, _ = report_create(category="litter", location=point, description="Müll")
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _kept() -> dict[tuple[str, str], int]:
    return {(c.status, c.moderation): c.count for c in ReportCount.objects.all() if c.count}


def _counted() -> dict[tuple[str, str], int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, moderation, count(*) FROM reports_report GROUP BY 1, 2")
        return {(status, moderation): n for status, moderation, n in cursor.fetchall()}


def test_counts_follow_create_transition_merge_moderation_update_and_delete():
    first, second, third = _report(), _report(), _report()
    assert _kept() == _counted()
    report_transition(report=first, to=S.IN_PROGRESS)
    dispatch_merge(duplicate=second, keep=first, actor=None)
    report_moderate(report=third, action="hide", reason="Beleidigung")
    assert _kept() == _counted()
    assert ReportCount.objects.get(status=S.DUPLICATE, moderation="published").count == 1
    # Writes that bypass the services (a bulk update, a delete) are counted too.
    Report.objects.filter(pk=first.pk).update(status=S.CLEARED, closed_at=timezone.now())
    Report.objects.filter(pk=second.pk).delete()
    assert _kept() == _counted()
    assert reports_count() == Report.objects.published().count()
    assert reports_count(statuses=[S.CLEARED]) == 1


def test_an_update_that_keeps_status_and_moderation_writes_no_count():
    report = _report()
    before = list(ReportCount.objects.values_list("pk", "count"))
    Report.objects.filter(pk=report.pk).update(description="anders", priority=2)
    assert list(ReportCount.objects.values_list("pk", "count")) == before


def test_public_map_count_is_the_rows_count_including_recently_cleared_only():
    now = timezone.now()
    open_ = _report()
    recent, old = _report(), _report()
    Report.objects.filter(pk=recent.pk).update(status=S.CLEARED, closed_at=now - timedelta(days=2))
    Report.objects.filter(pk=old.pk).update(status=S.CLEARED, closed_at=now - timedelta(days=90))
    report_moderate(report=_report(), action="hide", reason="Beleidigung")
    assert reports_public_map_count(now=now) == reports_public_map(now=now).count() == 2
    assert {r.pk for r in reports_public_map(now=now)} == {open_.pk, recent.pk}


def test_home_page_and_report_list_show_the_exact_totals(client):
    for _ in range(3):
        _report()
    home = client.get("/")
    assert home.context["page"].paginator.count == 3
    api = APIClient()
    assert api.get("/api/v1/reports/").json()["count"] == 3
    # A filter is counted over its rows.
    assert api.get("/api/v1/reports/?status=cleared").json()["count"] == 0
