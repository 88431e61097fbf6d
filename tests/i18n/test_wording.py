"""Stored codes shown as words in the reader's language: history notes, status changes,
durations, flags and the crews' late-ticket mail (German, Berlin time)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import translation

from crews.dispatch import dispatch_merge, dispatch_set_priority
from crews.escalation import escalation_run
from crews.models import Assignment
from crews.services import report_dispatch
from reports.models import ReportEvent
from reports.services import report_create
from reports.wording import duration, event_note, status_change
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db


def _report():
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=report)
    return report


def test_merge_and_priority_notes_in_german_and_english(dispatcher):
    kept, dup = _report(), _report()
    dispatch_merge(duplicate=dup, keep=kept, actor=dispatcher)
    dispatch_set_priority(report=kept, priority=2, actor=dispatcher)
    merged_here = kept.events.get(data__action="merge")
    merged_into = dup.events.get(to_status="duplicate")
    priority = kept.events.get(data__action="priority")
    with translation.override("de"):
        assert event_note(merged_here) == f"Meldung #{dup.pk} wurde mit dieser zusammengeführt."
        assert event_note(merged_into) == f"Mit Meldung #{kept.pk} zusammengeführt."
        assert event_note(priority) == "Priorität von 0 auf 2 geändert."
        assert status_change(merged_into) == "zugewiesen → Duplikat"
    with translation.override("en"):
        assert event_note(merged_here) == f"Report #{dup.pk} was merged into this one."
        assert status_change(merged_into) == "assigned → duplicate"


def test_old_english_notes_are_recognised_and_translated():
    report = _report()
    old = ReportEvent.objects.create(
        report=report, kind="note", note="Late: the deadline 2026-11-30 15:00 has passed."
    )
    with translation.override("de"):
        # 15:00 UTC is 16:00 in Dresden (winter time).
        assert event_note(old) == "Überfällig: die Frist 30.11.2026 16:00 ist abgelaufen."
    free = ReportEvent.objects.create(report=report, kind="note", note="Tor war verschlossen")
    assert event_note(free) == "Tor war verschlossen"


def test_durations_over_two_days_in_days():
    with translation.override("de"):
        assert duration(5.5) == "5,5 Stunden"
        assert duration(466.0) == "19,4 Tage"
        assert duration(None) == "–"
    with translation.override("en"):
        assert duration(72) == "3.0 days"


def test_late_ticket_mail_to_the_crew_is_german_with_berlin_times(settings):
    settings.LANGUAGE_CODE = "de"
    report = _report()
    due = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    Assignment.objects.filter(report=report).update(due_at=due)
    escalation_run(now=due + timedelta(hours=1))
    crew_mail = next(m for m in mail.outbox if "überfällig für" in m.subject)
    assert "fällig 30.11.2026 16:00" in crew_mail.body
    assert "due" not in crew_mail.body and "UTC" not in crew_mail.body
    late = report.events.get(data__action="late")
    with translation.override("de"):
        assert event_note(late) == "Überfällig: die Frist 30.11.2026 16:00 ist abgelaufen."
