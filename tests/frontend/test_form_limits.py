"""The form without JavaScript is held to the API's abuse limits (core.abuse): per network, per
e-mail address, and the honeypot."""

import pytest
from django.core.cache import cache
from django.test import Client

from reports.models import Report
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _post(client: Client, n: int, email: str = "", **extra):
    return client.post(
        "/report/new/",
        {
            "category": "litter",
            "lat": NEUSTADT_POINT.y,
            "lon": NEUSTADT_POINT.x,
            "email": email,
            "idempotency_key": f"form-limit-{n}",
            **extra,
        },
        headers={"Accept-Language": "en"},
    )


def test_the_form_has_the_api_limit_per_e_mail_address(settings):
    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "2/hour"
    client = Client()
    assert [_post(client, n, "same@example.org").status_code for n in range(2)] == [302, 302]
    refused = _post(client, 3, "same@example.org")
    assert refused.status_code == 400
    assert "Too many reports from this e-mail address" in refused.content.decode()
    assert Report.objects.count() == 2


def test_the_form_has_the_api_limit_per_network(settings):
    settings.REPORT_SUBMIT_RATE_PER_IP = "1/hour"
    client = Client()
    assert _post(client, 1).status_code == 302
    refused = _post(client, 2)
    assert refused.status_code == 400
    assert "Too many reports from your network" in refused.content.decode()


def test_a_filled_honeypot_is_refused():
    response = _post(Client(), 1, website="http://spam.example")
    assert response.status_code == 400
    assert Report.objects.count() == 0
