from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from crews.escalation import escalation_run
from crews.models import DISPATCHER_GROUP, Assignment
from crews.services import report_dispatch
from crews.tasks import escalation_run_task
from districts.models import District
from reports.models import Report, ReportEvent
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatchers():
    group = Group.objects.get(name=DISPATCHER_GROUP)
    users = [
        UserFactory(username="d1", email="d1@stadt.example"),
        UserFactory(username="d2", email="d2@stadt.example"),
    ]
    for user in users:
        user.groups.add(group)
    return users


def _report(point=NEUSTADT_POINT, created_ago=timedelta(0)) -> Report:
    report, _ = report_create(category="litter", location=point)
    Report.objects.filter(pk=report.pk).update(created_at=timezone.now() - created_ago)
    report.refresh_from_db()
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _late(report: Report, by: timedelta) -> None:
    due = timezone.now() - by
    Assignment.objects.filter(report=report, active=True).update(due_at=due)
    Report.objects.filter(pk=report.pk).update(due_at=due)


def test_two_runs_notify_crew_and_dispatchers_once(dispatchers):
    late = _report()
    _late(late, timedelta(minutes=3))
    on_time = _report()
    oberwartha = District.objects.get(code="oberwartha").boundary.point_on_surface
    waiting = _report(point=oberwartha, created_ago=timedelta(hours=2))
    fresh = _report(point=oberwartha, created_ago=timedelta(minutes=20))
    now = timezone.now()

    first = escalation_run(now=now)

    assert first.late == [late.pk]
    assert first.unassigned == [waiting.pk]
    subjects = sorted((m.subject, tuple(m.to)) for m in mail.outbox)
    assert len(mail.outbox) == 3
    crew_mail = next(m for m in mail.outbox if m.to == ["nord@stadtreinigung.example"])
    assert f"#{late.pk}" in crew_mail.body and f"#{on_time.pk}" not in crew_mail.body
    to_dispatchers = [m for m in mail.outbox if m.to == ["d1@stadt.example", "d2@stadt.example"]]
    assert len(to_dispatchers) == 2, subjects
    unassigned_mail = next(m for m in to_dispatchers if "without a crew" in m.subject)
    assert f"#{waiting.pk}" in unassigned_mail.body and f"#{fresh.pk}" not in unassigned_mail.body
    assignment = late.assignments.get(active=True)
    assert assignment.late_flagged_at == now and assignment.late_notified_at == now
    assert late.events.filter(kind=ReportEvent.Kind.NOTE, data__action="late").count() == 1

    second = escalation_run(now=now + timedelta(seconds=30))

    assert second.late == [] and second.unassigned == []
    assert len(mail.outbox) == 3
    assert late.events.filter(data__action="late").count() == 1


def test_a_ticket_reassigned_while_late_is_announced_to_the_new_crew(dispatchers):
    from crews.dispatch import dispatch_reassign
    from crews.models import Crew

    report = _report()
    _late(report, timedelta(hours=1))
    escalation_run(now=timezone.now())
    mail.outbox.clear()
    dispatch_reassign(
        report=report, crew=Crew.objects.get(code="mitte"), actor=None, reason="Nord zu voll"
    )
    escalation_run(now=timezone.now())
    assert {tuple(m.to) for m in mail.outbox} >= {("mitte@stadtreinigung.example",)}
    escalation_run(now=timezone.now())
    assert len([m for m in mail.outbox if m.to == ["mitte@stadtreinigung.example"]]) == 1


def test_the_beat_schedule_runs_escalation_every_five_minutes(dispatchers):
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "crews.tasks.escalation_run_task"
    )
    assert entry["schedule"].minute == set(range(0, 60, 5))
    report = _report()
    _late(report, timedelta(minutes=1))
    result = escalation_run_task.delay().get()  # eager in tests
    assert result["late"] == [report.pk]
    assert escalation_run_task.delay().get()["late"] == []
