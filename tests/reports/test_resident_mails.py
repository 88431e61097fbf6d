"""Residents hear about every change of their report by mail, in the language they reported
in, with the tracking link and the city's local times; the mail is outbox work."""

from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import translation

from crews.actions import ticket_close, ticket_reject
from crews.dispatch import dispatch_merge
from crews.models import Crew
from crews.services import assignment_create, report_dispatch
from reports.models import OutboxItem, Report
from reports.services import report_create, report_reopen_by_resident
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload
from tests.crews.test_actions import _member

pytestmark = pytest.mark.django_db

S = Report.Status


def _report(language: str, email: str = "anwohner@example.org") -> Report:
    with translation.override(language):
        report, _ = report_create(
            category="litter", location=NEUSTADT_POINT, email=email, photos=[upload(jpeg_bytes())]
        )
    report_dispatch(report=report)
    report.refresh_from_db()
    mail.outbox.clear()
    return report


def _close(report: Report) -> Report:
    return ticket_close(
        user=_member(), report=report, expected_version=report.version, photo=upload(jpeg_bytes())
    ).report


def test_cleared_mail_in_the_reporters_language_with_link_and_local_time(
    django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://melden.example.org"
    english = _report("en")
    german = _report("de", email="nachbarin@example.org")
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        _close(english)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        cleared = _close(german)
    en, de = mail.outbox
    assert en.to == ["anwohner@example.org"]
    assert en.subject == f"Your report #{english.pk}: cleared"
    assert f"https://melden.example.org/r/{english.tracking_token}/" in en.body
    assert "If the problem is still there" in en.body
    assert de.to == ["nachbarin@example.org"]
    assert de.subject == f"Ihre Meldung #{german.pk}: beseitigt"
    event = cleared.events.get(to_status=S.CLEARED)
    berlin = event.created_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin.strftime("%d.%m.%Y %H:%M") in de.body
    assert f"/r/{german.tracking_token}/" in de.body
    item = OutboxItem.objects.get(kind="report_resident_update_mail", report=german)
    assert item.done_at is not None


def test_rejected_mail_gives_the_reason_in_german(django_capture_on_commit_callbacks):
    report = _report("de")
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        ticket_reject(
            user=_member(),
            report=report,
            expected_version=report.version,
            reason="private_ground",
            note="Hof der Wohnanlage",
        )
    (message,) = [m for m in mail.outbox if m.to == ["anwohner@example.org"]]
    assert "ohne Beseitigung geschlossen" in message.body
    assert "Grund:" in message.body and "Hof der Wohnanlage" in message.body


def test_merged_reporter_gets_the_kept_report_and_keeps_the_photo(
    dispatcher, django_capture_on_commit_callbacks, client, settings
):
    settings.SITE_URL = "https://melden.example.org"
    kept = _report("de", email="erste@example.org")
    dup = _report("de")
    photo = dup.photos.get()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_merge(duplicate=dup, keep=kept, actor=dispatcher)
    (message,) = mail.outbox
    assert message.to == ["anwohner@example.org"]
    assert f"#{kept.pk}" in message.body
    assert f"https://melden.example.org/reports/{kept.pk}/" in message.body
    page = client.get(f"/r/{dup.tracking_token}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f'href="/reports/{kept.pk}/"' in page and "zusammengeführt" in page
    photo.refresh_from_db()
    assert photo.report_id == kept.pk  # moved to the kept report ...
    if photo.thumbnail:  # ... and still shown on the resident's own page
        assert photo.thumbnail.url in page


def test_reopened_and_dispatcher_assignment_are_told_routing_is_not(
    dispatcher, django_capture_on_commit_callbacks
):
    report = _report("en")
    assert mail.outbox == []  # routing to the crew was in the receipt
    with django_capture_on_commit_callbacks(execute=True):
        cleared = _close(report)
        report_reopen_by_resident(report=cleared, note="Still there")
    assert [m.subject for m in mail.outbox] == [
        f"Your report #{report.pk}: cleared",
        f"Your report #{report.pk}: assigned",
    ]
    assert "was opened again" in mail.outbox[1].body
    mail.outbox.clear()
    with translation.override("en"):
        unrouted, _ = report_create(
            category="litter", location=NEUSTADT_POINT, email="x@example.org"
        )
    with django_capture_on_commit_callbacks(execute=True):
        assignment_create(
            report=unrouted,
            crew=Crew.objects.get(code="nord"),
            due_at=report.due_at,
            actor=dispatcher,
        )
    assert [m.to for m in mail.outbox] == [["x@example.org"]]
    assert "handed to the crew responsible" in mail.outbox[0].body


def test_the_reject_reason_is_a_code_told_in_each_readers_language(
    django_capture_on_commit_callbacks,
):
    from reports.wording import event_note

    report = _report("en")
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        ticket_reject(
            user=_member(),
            report=report,
            expected_version=report.version,
            reason="not_found",
            note="Kein Müll da",
        )
    event = report.events.get(to_status=S.REJECTED)
    assert event.data["reason"] == "not_found" and event.note == "Kein Müll da"
    (message,) = mail.outbox  # the resident reported in English
    assert "Reason: not found: Kein Müll da" in message.body
    with translation.override("de"):
        assert event_note(event) == "nicht gefunden: Kein Müll da"
