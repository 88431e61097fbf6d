"""A public report's "I see it too" (one per browser and network address) and "tell me when it
changes" (double opt-in, one-click unsubscribe with List-Unsubscribe), as FixMyStreet does."""

import re

import pytest
from django.core import mail
from django.test import Client

from crews.actions import ticket_close
from crews.services import report_dispatch
from reports.models import Report, ReportSubscription
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def report():
    made, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=made)
    made.refresh_from_db()
    return made


def _client(address: str) -> Client:
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="de")


def test_i_see_it_too_counts_once_per_browser_and_per_address(report):
    first = _client("198.51.100.1")
    page = first.post(f"/reports/{report.pk}/seen/", follow=True).content.decode()
    assert "dass Sie es auch sehen" in page
    first.post(f"/reports/{report.pk}/seen/")  # same browser (cookie), same address
    Client(REMOTE_ADDR="198.51.100.1").post(f"/reports/{report.pk}/seen/")  # new browser
    _client("198.51.100.2").post(f"/reports/{report.pk}/seen/")  # another network
    assert Report.objects.get(pk=report.pk).confirmations_count == 2
    assert report.events.filter(kind="confirmed").count() == 2


def test_follow_needs_confirmation_then_mails_with_one_click_unsubscribe(
    report, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://melden.example.org"
    client = _client("198.51.100.3")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            f"/reports/{report.pk}/follow/", {"email": "Nachbar@Example.org"}, follow=True
        )
    assert "Posteingang" in answer.content.decode()
    (confirm,) = mail.outbox
    assert confirm.to == ["nachbar@example.org"] and f"#{report.pk}" in confirm.subject
    link = re.search(r"https://melden\.example\.org(/follow/[^/]+/confirm/)", confirm.body)[1]
    subscription = ReportSubscription.objects.get()
    assert not subscription.active  # nothing is sent before the address confirmed
    mail.outbox.clear()

    assert "bestätigt" in client.get(link).content.decode()
    member = report.assignments.get(active=True).crew.members.first()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(
            user=member, report=report, expected_version=report.version, photo=upload(jpeg_bytes())
        )
    (update,) = mail.outbox
    assert update.to == ["nachbar@example.org"]
    assert update.subject == f"Meldung #{report.pk}: beseitigt"
    stop = f"https://melden.example.org/follow/{subscription.token}/stop/"
    assert stop in update.body
    assert update.extra_headers["List-Unsubscribe"] == f"<{stop}>"
    assert update.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert report.tracking_token not in update.body  # followers never get the secret link

    # One click (the mail program POSTs, without a CSRF token): no more mails.
    Client(enforce_csrf_checks=True).post(
        f"/follow/{subscription.token}/stop/", {"List-Unsubscribe": "One-Click"}
    )
    subscription.refresh_from_db()
    assert subscription.unsubscribed_at is not None and not subscription.active


def test_a_second_request_sends_no_second_mail_and_bad_addresses_are_refused(
    report, django_capture_on_commit_callbacks
):
    client = _client("198.51.100.4")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/reports/{report.pk}/follow/", {"email": "a@example.org"})
        client.post(f"/reports/{report.pk}/follow/", {"email": "a@example.org"})
        page = client.post(
            f"/reports/{report.pk}/follow/", {"email": "kein-mail"}, follow=True
        ).content.decode()
    assert len(mail.outbox) == 1
    assert "gültige E-Mail-Adresse" in page
    assert client.get("/follow/nonsense/confirm/").status_code == 200
