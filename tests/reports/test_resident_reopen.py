"""The resident's side of a report: "not fixed" within 14 days of clearing, and the tracking
link mailed on submission."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crews.services import report_dispatch
from reports.models import Report, ReportEvent, ReportFlag, ReportPhoto
from reports.services import (
    REOPEN_NEEDS_NOTE,
    REOPEN_NOT_CLEARED,
    REOPEN_TOO_LATE,
    report_create,
    report_reopen_by_resident,
    report_reopen_window_open,
    report_transition,
)
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

pytestmark = pytest.mark.django_db
S = Report.Status


def _cleared(days_ago: float = 1, dispatch: bool = True) -> Report:
    report, _ = report_create(category="litter", location=NEUSTADT_POINT, description="Müll")
    if dispatch:
        report_dispatch(report=report)
    report = report_transition(report=report, to=S.CLEARED, note="Beseitigt.")
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - timedelta(days=days_ago))
    report.refresh_from_db()
    return report


def test_not_fixed_within_14_days_reopens_to_the_crew_and_flags_the_dispatchers():
    report = _cleared(days_ago=3)
    reopened = report_reopen_by_resident(report=report, note="Der Müll liegt immer noch da.")
    assert reopened.status == S.ASSIGNED  # back to the crew that still holds it
    assert reopened.closed_at is None
    flag = reopened.flags.get()
    assert flag.kind == ReportFlag.Kind.REOPENED and flag.resolved_at is None
    assert "Der Müll liegt immer noch da." in flag.reason
    event = reopened.events.filter(kind=ReportEvent.Kind.REOPENED).get()
    assert (event.from_status, event.to_status) == (S.CLEARED, S.ASSIGNED)
    # The resident's words are for the city, not for the public page.
    assert event.note == "Der Müll liegt immer noch da." and event.public is False


def test_not_fixed_without_a_crew_goes_back_to_new():
    report = _cleared(dispatch=False)
    assert report_reopen_by_resident(report=report, note="Noch da").status == S.NEW


def test_reopen_window_boundary_is_exactly_14_days():
    report = _cleared(days_ago=0)
    cleared = report.closed_at
    assert report_reopen_window_open(report=report, now=cleared + timedelta(days=14))
    assert not report_reopen_window_open(report=report, now=cleared + timedelta(days=14, seconds=1))
    report_reopen_by_resident(report=report, note="Noch da", now=cleared + timedelta(days=14))
    assert Report.objects.get(pk=report.pk).status == S.ASSIGNED


def test_reopen_after_14_days_is_refused_and_changes_nothing():
    report = _cleared(days_ago=14.01)
    with pytest.raises(ValidationError) as error:
        report_reopen_by_resident(report=report, note="Noch da")
    assert error.value.messages == [REOPEN_TOO_LATE.format(days=14)]
    report.refresh_from_db()
    assert report.status == S.CLEARED and not report.flags.exists()


def test_reopen_needs_a_note_and_a_cleared_report():
    report = _cleared()
    with pytest.raises(ValidationError) as error:
        report_reopen_by_resident(report=report, note="  ")
    assert error.value.message_dict == {"note": [str(REOPEN_NEEDS_NOTE)]}
    open_report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    with pytest.raises(ValidationError) as error:
        report_reopen_by_resident(report=open_report, note="Noch da")
    assert error.value.messages == [REOPEN_NOT_CLEARED]


def test_reopen_with_a_new_photo_keeps_it_as_a_before_photo(django_capture_on_commit_callbacks):
    report = _cleared()
    with django_capture_on_commit_callbacks(execute=True):
        reopened = report_reopen_by_resident(
            report=report, note="Noch da", photo=upload(jpeg_bytes(), "noch-da.jpg")
        )
    photo = reopened.photos.get()
    assert photo.kind == ReportPhoto.Kind.BEFORE
    assert photo.state == ReportPhoto.State.READY  # processed (tasks run eagerly in tests)


def test_reopen_with_a_non_image_is_refused_before_anything_changes():
    report = _cleared()
    with pytest.raises(ValidationError) as error:
        report_reopen_by_resident(report=report, note="Noch da", photo=upload(b"kein Bild"))
    assert "photo" in error.value.message_dict
    report.refresh_from_db()
    assert report.status == S.CLEARED and not report.flags.exists()


def test_tracking_link_is_mailed_after_commit_in_the_residents_language(
    django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://melden.example.org"
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        report, _ = report_create(
            category="glass", location=NEUSTADT_POINT, email="anwohner@example.org"
        )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anwohner@example.org"]
    assert f"https://melden.example.org/r/{report.tracking_token}/" in message.body
    assert f"Ihre Meldung #{report.pk}" in message.subject


def test_no_mail_without_an_address_and_none_for_a_retry(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report_create(category="glass", location=NEUSTADT_POINT)
        report_create(
            category="glass", location=NEUSTADT_POINT, email="a@example.org", idempotency_key="k1"
        )
        report_create(
            category="glass", location=NEUSTADT_POINT, email="a@example.org", idempotency_key="k1"
        )
    assert len(mail.outbox) == 1


def test_the_reopen_window_ends_where_the_tracking_page_says():
    from reports.services import REOPEN_WINDOW_DAYS, report_reopen_until

    report = _cleared(days_ago=3)
    until = report_reopen_until(report=report)
    assert until == report.closed_at + timedelta(days=REOPEN_WINDOW_DAYS)
    assert report_reopen_window_open(report=report, now=until)
    assert not report_reopen_window_open(report=report, now=until + timedelta(seconds=1))
