"""The dispatchers' "needs attention" channel: every flag and every new ticket is in the live
map's data, a crew's "not found" keeps a rejected ticket there, and clearing is history."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from crews import dispatch
from crews.actions import ticket_reject
from crews.selectors import open_ticket_feature, open_tickets_geojson
from crews.services import report_dispatch
from reports.models import Report, ReportEvent, ReportFlag
from reports.services import report_create, report_reopen_by_resident, report_transition
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db
S = Report.Status


def _ticket(**kwargs) -> Report:
    report, _ = report_create(category="litter", location=NEUSTADT_POINT, **kwargs)
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _props(report: Report) -> dict | None:
    feature = open_ticket_feature(report_id=report.pk, now=timezone.now())
    return feature["properties"] if feature else None


def test_a_new_ticket_is_new_until_a_dispatcher_marked_it_seen(dispatcher):
    report = _ticket()
    assert _props(report)["new"] is True and _props(report)["flags"] == []
    assert open_tickets_geojson(now=timezone.now())["attention"] == 1
    dispatch.dispatch_mark_seen(report=report, actor=dispatcher)
    dispatch.dispatch_mark_seen(report=report, actor=dispatcher)  # recorded once
    assert _props(report)["new"] is False
    seen = report.events.filter(data__action=dispatch.SEEN)
    assert seen.count() == 1 and seen.get().actor == dispatcher and seen.get().public is False


def test_a_ticket_received_more_than_a_day_ago_is_not_new():
    report = _ticket()
    Report.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert _props(report)["new"] is False


def test_resident_reopen_is_a_flag_on_the_map_until_cleared_with_history(dispatcher):
    report = _ticket()
    report = report_transition(report=report, to=S.CLEARED, note="Beseitigt.")
    assert _props(report) is None  # closed and nothing to look at
    report_reopen_by_resident(report=report, note="Liegt noch da")
    props = _props(report)
    assert props["flags"] == [ReportFlag.Kind.REOPENED] and props["open"] is True
    flag = report.flags.get()
    dispatch.dispatch_flag_clear(
        report=report, flag_id=flag.pk, actor=dispatcher, note="Crew fährt morgen hin"
    )
    assert _props(report)["flags"] == []
    cleared = report.events.get(data__flag_cleared=ReportFlag.Kind.REOPENED)
    assert cleared.actor == dispatcher and cleared.note == "Crew fährt morgen hin"
    assert cleared.public is False
    with pytest.raises(ValidationError):  # cleared twice: a clear message, nothing changes
        dispatch.dispatch_flag_clear(report=report, flag_id=flag.pk, actor=dispatcher)
    assert report.events.filter(data__flag_cleared=ReportFlag.Kind.REOPENED).count() == 1


def test_crew_answer_not_found_keeps_the_rejected_ticket_on_the_map_for_the_dispatcher(
    dispatcher,
):
    report = _ticket()
    member = User.objects.get(username="crew-nord")
    rejected = ticket_reject(
        user=member,
        report=report,
        expected_version=report.version,
        reason="not_found",
        note="Nichts zu sehen",
    ).report
    assert rejected.status == S.REJECTED
    props = _props(rejected)
    assert props["state"] == "closed" and props["open"] is False
    assert props["flags"] == [ReportFlag.Kind.CREW_ANSWER]
    flag = rejected.flags.get()
    assert "Nichts zu sehen" in flag.reason and flag.data == {"reason": "not_found"}
    # Closed tickets are not counted as open ones.
    counts = open_tickets_geojson(now=timezone.now())["counts"]
    assert sum(counts[s] for s in ("unassigned", "late", "due_soon", "on_time")) == 0
    # The dispatcher disagrees: the ticket goes back to its crew.
    reopened = dispatch.dispatch_reopen(
        report=rejected, actor=dispatcher, reason="Ist doch da, Foto ansehen"
    )
    assert reopened.status == S.ASSIGNED
    dispatch.dispatch_flag_clear(report=reopened, flag_id=flag.pk, actor=dispatcher)
    assert _props(reopened)["flags"] == []


def test_every_flag_and_its_clearing_are_events_that_reach_open_maps(
    dispatcher, django_capture_on_commit_callbacks, monkeypatch
):
    from reports import live

    sent = []
    monkeypatch.setattr(live, "report_changed", lambda **kw: sent.append(kw["report_id"]))
    report = _ticket()
    with django_capture_on_commit_callbacks(execute=True):
        flag = ReportFlag.objects.create(report=report, kind="other", reason="x")
        dispatch.dispatch_flag_clear(report=report, flag_id=flag.pk, actor=dispatcher)
    assert sent == [report.pk]
    assert report.events.filter(kind=ReportEvent.Kind.NOTE, data__flag_cleared="other").exists()
