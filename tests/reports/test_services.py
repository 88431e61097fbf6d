import threading

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import connection

from crews.services import report_dispatch
from reports.models import IdempotencyKey, Report, ReportEvent
from reports.services import (
    ALLOWED,
    LOCATION_OUTSIDE,
    REPORT_TRANSITION_NOT_ALLOWED,
    ReportChangedMeanwhile,
    report_confirm,
    report_create,
    report_transition,
)
from tests.conftest import BERLIN_POINT, NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
S = Report.Status


def _report(status: str = S.NEW) -> Report:
    report, _ = report_create(category="litter", location=NEUSTADT_POINT, description="Müll")
    Report.objects.filter(pk=report.pk).update(status=status)
    report.refresh_from_db()
    return report


LEGAL = sorted((frm, to) for frm, targets in ALLOWED.items() for to in targets)


@pytest.mark.parametrize(("frm", "to"), LEGAL)
def test_every_legal_transition_is_recorded(frm, to):
    actor = UserFactory(username="crew-member")
    report = _report(frm)
    target = _report(S.ASSIGNED) if to == S.DUPLICATE else None
    version = report.version
    changed = report_transition(
        report=report, to=to, actor=actor, note="Grund: erledigt", duplicate_of=target
    )
    assert changed.status == to
    assert changed.version == version + 1
    assert (changed.closed_at is None) == (to in Report.OPEN_STATUSES)
    event = changed.events.latest("id")
    assert (event.from_status, event.to_status, event.actor) == (frm, to, actor)
    assert event.kind == (
        ReportEvent.Kind.REOPENED if frm not in Report.OPEN_STATUSES else ReportEvent.Kind.STATUS
    )
    if to == S.DUPLICATE:
        assert changed.duplicate_of == target


def test_illegal_transition_is_refused_and_changes_nothing():
    report = _report(S.CLEARED)
    events = report.events.count()
    with pytest.raises(ValidationError) as error:
        report_transition(report=report, to=S.IN_PROGRESS)
    assert error.value.messages == [
        REPORT_TRANSITION_NOT_ALLOWED.format(frm="cleared", to="in_progress")
    ]
    report.refresh_from_db()
    assert report.status == S.CLEARED and report.events.count() == events


def test_clearing_needs_a_photo_or_a_note_and_rejecting_a_reason():
    report = _report(S.IN_PROGRESS)
    with pytest.raises(ValidationError, match="after-photo or a note"):
        report_transition(report=report, to=S.CLEARED)
    with pytest.raises(ValidationError, match="needs a reason"):
        report_transition(report=report, to=S.REJECTED, note="  ")


def test_duplicate_must_point_to_another_open_report():
    report = _report(S.ASSIGNED)
    with pytest.raises(ValidationError, match="cannot be a duplicate of itself"):
        report_transition(report=report, to=S.DUPLICATE, duplicate_of=report)
    closed = _report(S.CLEARED)
    with pytest.raises(ValidationError, match="is closed"):
        report_transition(report=report, to=S.DUPLICATE, duplicate_of=closed)


def test_stale_version_gets_a_conflict_with_the_current_state():
    report = _report(S.ASSIGNED)
    report_transition(report=report, to=S.IN_PROGRESS)
    with pytest.raises(ReportChangedMeanwhile) as conflict:
        report_transition(report=report, to=S.REJECTED, note="x", expected_version=report.version)
    assert conflict.value.report.status == S.IN_PROGRESS
    assert "changed meanwhile" in str(conflict.value)


def test_two_members_closing_at_once_one_wins_the_other_gets_a_conflict(dresden_committed):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=report)
    report.refresh_from_db()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def close(note: str) -> None:
        stale = Report.objects.get(pk=report.pk)
        barrier.wait()
        try:
            report_transition(report=stale, to=S.CLEARED, note=note, expected_version=stale.version)
            outcomes.append("won")
        except ReportChangedMeanwhile:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(n,)) for n in ("erste", "zweite")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    report.refresh_from_db()
    assert report.status == S.CLEARED
    assert report.events.filter(to_status=S.CLEARED).count() == 1


def test_outside_the_city_is_refused_with_a_readable_message():
    with pytest.raises(ValidationError) as error:
        report_create(category="litter", location=BERLIN_POINT)
    assert error.value.message_dict["location"] == [
        LOCATION_OUTSIDE.format(lat=BERLIN_POINT.y, lon=BERLIN_POINT.x)
    ]
    assert not Report.objects.exists()


def test_unknown_category_lists_the_known_ones():
    with pytest.raises(ValidationError) as error:
        report_create(category="unicorns", location=NEUSTADT_POINT)
    message = error.value.message_dict["category"][0]
    assert "Unknown category 'unicorns'" in message and "litter" in message


def test_same_idempotency_key_creates_one_report():
    first, created = report_create(
        category="litter", location=NEUSTADT_POINT, idempotency_key="phone-123"
    )
    again, created_again = report_create(
        category="litter", location=NEUSTADT_POINT, idempotency_key="phone-123"
    )
    assert created and not created_again
    assert again == first
    assert Report.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_confirmation_counts_and_is_recorded():
    report = _report(S.ASSIGNED)
    report_confirm(report=report, note="Auch gesehen")
    report_confirm(report=report)
    report.refresh_from_db()
    assert report.confirmations_count == 2
    assert report.events.filter(kind=ReportEvent.Kind.CONFIRMED).count() == 2


def test_location_point_without_srid_is_taken_as_wgs84():
    report, _ = report_create(category="litter", location=Point(13.7535, 51.0655))
    assert report.district.code == "neustadt"


def test_flags_are_not_doubled_and_can_be_resolved():
    from reports.services import report_flag_add, report_flag_resolve

    report = _report(S.ASSIGNED)
    first = report_flag_add(report=report, kind="photo_age", reason="Foto 9 Tage alt")
    again = report_flag_add(report=report, kind="photo_age", reason="Foto 9 Tage alt")
    assert first == again and report.flags.count() == 1
    report_flag_resolve(flag=first, actor=UserFactory(username="disp2"))
    assert report.flags.filter(resolved_at__isnull=True).count() == 0
    assert not report.events.filter(kind=ReportEvent.Kind.NOTE, public=True).exists()
