"""Idempotency keys belong to their client and their request: a replay from another client
never returns the first one's report or tracking token."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from api.open311.keys import client_create
from reports.models import IdempotencyKey, Report
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REPORT = {
    "category": "litter",
    "lat": NEUSTADT_POINT.y,
    "lon": NEUSTADT_POINT.x,
    "description": "Müll am Zaun",
    "email": "first@example.org",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _post(client, key: str, **changes):
    return client.post("/api/v1/reports/", {**REPORT, **changes}, headers={"Idempotency-Key": key})


def test_the_same_client_and_body_replays_the_first_report():
    client = Client()
    first = _post(client, "bus-retry-1")
    again = _post(client, "bus-retry-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert (
        again.json()["properties"]["tracking_token"] == first.json()["properties"]["tracking_token"]
    )
    assert Report.objects.count() == 1


def test_an_anonymous_replay_with_another_body_gets_422_and_no_token():
    victim = _post(Client(REMOTE_ADDR="10.0.0.1"), "guessable-1")
    assert victim.status_code == 201
    attacker = _post(
        Client(REMOTE_ADDR="10.0.0.2", headers={"Accept-Language": "en"}),
        "guessable-1",
        email="attacker@example.org",
        description="",
    )
    assert attacker.status_code == 422
    body = attacker.json()
    assert body["code"] == "idempotency_key_reused" and "different request" in body["detail"]
    assert "tracking_token" not in attacker.content.decode()
    assert victim.json()["properties"]["tracking_token"] not in attacker.content.decode()
    assert Report.objects.count() == 1


def test_a_different_photo_is_a_different_body():
    client = Client()
    first = client.post(
        "/api/v1/reports/",
        {**REPORT, "photo": upload(jpeg_bytes(colour=(10, 20, 30)))},
        headers={"Idempotency-Key": "photo-1"},
    )
    assert first.status_code == 201
    other = client.post(
        "/api/v1/reports/",
        {**REPORT, "photo": upload(jpeg_bytes(colour=(200, 20, 30)))},
        headers={"Idempotency-Key": "photo-1"},
    )
    assert other.status_code == 422


def test_logged_in_clients_have_their_own_key_space():
    alice, bob = APIClient(), APIClient()
    alice.force_authenticate(UserFactory(username="alice"))
    bob.force_authenticate(UserFactory(username="bob"))
    mine = _post(alice, "same-key")
    theirs = _post(bob, "same-key")
    assert mine.status_code == 201 and theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert (
        theirs.json()["properties"]["tracking_token"] != mine.json()["properties"]["tracking_token"]
    )
    assert Report.objects.count() == 2


@pytest.mark.parametrize(
    "key", ["k" * 129, "k" * 201, "with space", "tab\there", "umlaut-ä", "nul-\x01"]
)
def test_a_malformed_key_is_a_400(key):
    response = _post(Client(), key)
    assert response.status_code == 400
    assert "Idempotency-Key" in str(response.json())
    assert Report.objects.count() == 0


def test_a_long_key_that_used_to_crash_is_a_400():
    response = _post(Client(), "x" * 250)
    assert response.status_code == 400 and Report.objects.count() == 0


def test_open311_keys_are_per_api_key():
    one, two = client_create(name="app one")[1], client_create(name="app two")[1]
    data = {
        "service_code": "litter",
        "lat": str(NEUSTADT_POINT.y),
        "long": str(NEUSTADT_POINT.x),
        "description": "Müll",
    }
    client = Client()
    headers = {"Idempotency-Key": "fms-1"}
    first = client.post("/open311/v2/requests.json", {**data, "api_key": one}, headers=headers)
    same = client.post("/open311/v2/requests.json", {**data, "api_key": one}, headers=headers)
    other = client.post("/open311/v2/requests.json", {**data, "api_key": two}, headers=headers)
    assert first.status_code == 201 and same.status_code == 200 and other.status_code == 201
    assert same.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert other.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]
    changed = client.post(
        "/open311/v2/requests.json",
        {**data, "api_key": one, "description": "anders"},
        headers=headers,
    )
    assert changed.status_code == 422 and changed.json()[0]["code"] == 422
    # The token lookup with the client's key finds its own request.
    mine = client.get("/open311/v2/tokens/fms-1.json", {"api_key": two}).json()
    assert mine[0]["service_request_id"] == other.json()[0]["service_request_id"]


def test_html_form_resend_is_one_report_and_another_body_is_refused():
    client = Client(headers={"Accept-Language": "en"})
    key = client.get("/report/new/").context["values"]["idempotency_key"]
    data = {"category": "litter", "district": "pieschen", "description": "Müll"}
    first = client.post("/report/new/", {**data, "idempotency_key": key})
    again = client.post("/report/new/", {**data, "idempotency_key": key})
    assert first.status_code == 302 and again["Location"] == first["Location"]
    other = Client(headers={"Accept-Language": "en"}).post(
        "/report/new/", {**data, "description": "Andere", "idempotency_key": key}
    )
    assert other.status_code == 400
    assert "already used for a different request" in other.content.decode()
    assert first["Location"] not in other.content.decode()
    assert Report.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_crew_action_keys_are_per_member(ticket):
    ticket.refresh_from_db()
    crew = ticket.assignments.get(active=True).crew
    first_member = crew.members.first()
    second = UserFactory(username="second-member")
    crew.members.add(second)
    a, b = APIClient(), APIClient()
    a.force_authenticate(first_member)
    b.force_authenticate(second)
    url = f"/api/v1/crew/tickets/{ticket.pk}/start/"
    started = a.post(url, {"expected_version": ticket.version}, headers={"Idempotency-Key": "t1"})
    assert started.status_code == 200 and started.json()["replayed"] is False
    replay = a.post(url, {"expected_version": ticket.version}, headers={"Idempotency-Key": "t1"})
    assert replay.json()["replayed"] is True
    # Another member's same key is their own action, not a replay of the first member's.
    theirs = b.post(url, {"expected_version": ticket.version}, headers={"Idempotency-Key": "t1"})
    assert theirs.status_code == 409 and "replayed" not in theirs.json()
