"""Crew API and crew pages: wiring, permissions, conflicts and resends."""

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crews.services import report_dispatch
from reports.models import Report
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

pytestmark = pytest.mark.django_db
S = Report.Status
ACTIONS = ["start", "close", "reject", "duplicate"]


def _ticket(dx: float = 0.0) -> Report:
    point = Point(NEUSTADT_POINT.x + dx, NEUSTADT_POINT.y, srid=4326)
    report, _ = report_create(category="litter", location=point, email="anna@example.org")
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _client(username: str = "crew-nord") -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


def _payload(action: str, report: Report, near: Report) -> dict:
    data = {"expected_version": report.version, "note": "x"}
    if action == "close":
        data["photo"] = upload(jpeg_bytes())
    if action == "reject":
        data["reason"] = "not_found"
    if action == "duplicate":
        data["duplicate_of"] = near.pk
    return data


def test_token_login_then_queue_with_distance():
    ticket = _ticket()
    client = APIClient()
    answer = client.post(
        "/api/v1/crew/token/", {"username": "crew-nord", "password": "civicmap-demo"}
    )
    assert answer.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    rows = client.get(
        "/api/v1/crew/tickets/", {"lat": NEUSTADT_POINT.y, "lon": NEUSTADT_POINT.x}
    ).json()
    assert [row["id"] for row in rows] == [ticket.pk]
    assert rows[0]["distance_m"] == 0 and rows[0]["version"] == ticket.version
    assert "email" not in str(rows) and "anna" not in str(rows)


def test_anonymous_gets_no_queue():
    # 401 (not 403): the tablet keeps its waiting actions and asks to log in again.
    assert APIClient().get("/api/v1/crew/tickets/").status_code == 401


def test_ticket_detail_has_history_and_nearby_open_tickets_but_no_contact_data():
    ticket, near = _ticket(), _ticket(dx=0.0003)
    body = _client().get(f"/api/v1/crew/tickets/{ticket.pk}/").json()
    assert body["status"] == S.ASSIGNED and body["crew"] == "nord"
    assert [c["id"] for c in body["duplicate_candidates"]] == [near.pk]
    assert [e["kind"] for e in body["history"]][:2] == ["created", "assigned"]
    assert "anna@example.org" not in str(body) and "tracking_token" not in body


def test_other_crews_ticket_is_404_to_read():
    ticket = _ticket()
    assert _client("crew-mitte").get(f"/api/v1/crew/tickets/{ticket.pk}/").status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_on_another_crews_ticket_is_403_in_the_api(action):
    ticket, near = _ticket(), _ticket(dx=0.0003)
    answer = _client("crew-mitte").post(
        f"/api/v1/crew/tickets/{ticket.pk}/{action}/", _payload(action, ticket, near)
    )
    assert answer.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == S.ASSIGNED and ticket.version == ticket.version


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_on_another_crews_ticket_is_403_on_the_page(client, action):
    ticket, near = _ticket(), _ticket(dx=0.0003)
    client.force_login(User.objects.get(username="crew-mitte"))
    assert client.get(f"/crew/tickets/{ticket.pk}/").status_code == 404
    answer = client.post(
        f"/crew/tickets/{ticket.pk}/", {"action": action, **_payload(action, ticket, near)}
    )
    assert answer.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == S.ASSIGNED


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_works_for_the_own_crew(action):
    ticket, near = _ticket(), _ticket(dx=0.0003)
    answer = _client().post(
        f"/api/v1/crew/tickets/{ticket.pk}/{action}/", _payload(action, ticket, near)
    )
    assert answer.status_code == 200, answer.content
    expected = {
        "start": S.IN_PROGRESS,
        "close": S.CLEARED,
        "reject": S.REJECTED,
        "duplicate": S.DUPLICATE,
    }
    assert answer.json()["status"] == expected[action]
    ticket.refresh_from_db()
    assert ticket.status == expected[action]
    assert ticket.events.get(to_status=expected[action]).actor.username == "crew-nord"


def test_close_without_photo_is_400():
    ticket = _ticket()
    answer = _client().post(
        f"/api/v1/crew/tickets/{ticket.pk}/close/", {"expected_version": ticket.version}
    )
    assert answer.status_code == 400 and "photo" in answer.json()


def test_stale_version_is_409_with_the_current_state():
    ticket = _ticket()
    client = _client()
    client.post(f"/api/v1/crew/tickets/{ticket.pk}/start/", {"expected_version": ticket.version})
    answer = client.post(
        f"/api/v1/crew/tickets/{ticket.pk}/reject/",
        {"expected_version": ticket.version, "reason": "not_found"},
    )
    assert answer.status_code == 409
    assert answer.json()["current"]["status"] == S.IN_PROGRESS
    assert "changed meanwhile" in answer.json()["detail"]


def test_resend_with_the_same_idempotency_key_is_applied_once():
    ticket = _ticket()
    client = _client()

    def send():
        return client.post(
            f"/api/v1/crew/tickets/{ticket.pk}/close/",
            {"expected_version": ticket.version, "photo": upload(jpeg_bytes())},
            HTTP_IDEMPOTENCY_KEY="tablet-7",
        )

    first, second = send(), send()
    assert first.status_code == second.status_code == 200
    assert first.json()["replayed"] is False and second.json()["replayed"] is True
    assert second.json()["version"] == first.json()["version"]
    assert ticket.events.filter(to_status=S.CLEARED).count() == 1


def test_the_same_key_for_another_action_or_body_is_refused_not_replayed():
    ticket = _ticket()
    client = _client()
    key = {"HTTP_IDEMPOTENCY_KEY": "tablet-8"}
    first = {"expected_version": ticket.version}
    started = client.post(f"/api/v1/crew/tickets/{ticket.pk}/start/", first, **key)
    assert started.status_code == 200
    version = started.json()["version"]
    # Another action under the same key: refused, not answered with "started".
    rejected = client.post(
        f"/api/v1/crew/tickets/{ticket.pk}/reject/",
        {"expected_version": version, "reason": "not_found"},
        **key,
    )
    assert rejected.status_code == 422
    assert rejected.json()["code"] == "idempotency_key_reused"
    # The same action with another body (a note now): refused as well.
    other_body = client.post(
        f"/api/v1/crew/tickets/{ticket.pk}/start/",
        {**first, "note": "anders"},
        **key,
    )
    assert other_body.status_code == 422
    ticket.refresh_from_db()
    assert ticket.status == S.IN_PROGRESS and ticket.version == version
    # The very same request again is still a replay.
    again = client.post(f"/api/v1/crew/tickets/{ticket.pk}/start/", first, **key)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert "request_fingerprint" not in again.json()


def test_flag_for_a_far_away_after_photo_is_shown_with_the_ticket():
    from tests.conftest import gps_exif

    ticket = _ticket()
    far = upload(jpeg_bytes(exif=gps_exif(NEUSTADT_POINT.y + 0.01, NEUSTADT_POINT.x)))
    client = _client()
    answer = client.post(
        f"/api/v1/crew/tickets/{ticket.pk}/close/",
        {"expected_version": ticket.version, "photo": far},
    )
    assert answer.status_code == 200 and answer.json()["status"] == S.CLEARED
    flags = client.get(f"/api/v1/crew/tickets/{ticket.pk}/").json()["flags"]
    # The test camera's clock also says 20 Nov 2026, before the report: two reasons.
    assert {flag["kind"] for flag in flags} == {"after_photo"}
    assert any("m from the ticket" in flag["reason"] for flag in flags)


def test_plan_lists_my_tickets_from_the_depot():
    ticket = _ticket()
    body = _client().get("/api/v1/crew/plan/").json()
    assert [stop["id"] for stop in body["stops"]] == [ticket.pk]
    assert body["depot"] == pytest.approx([51.0777, 13.7537])


def test_crew_endpoints_are_in_the_openapi_schema():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/crew/tickets/",
        "/api/v1/crew/tickets/{id}/close/",
        "/api/v1/crew/tickets/{id}/reject/",
        "/api/v1/crew/plan/",
        "/api/v1/crew/token/",
    ):
        assert path in schema["paths"], path
    close = schema["paths"]["/api/v1/crew/tickets/{id}/close/"]["post"]
    assert {"200", "403", "409"} <= set(close["responses"])


def test_queue_ticket_and_plan_pages_for_a_member(client):
    ticket = _ticket()
    client.force_login(User.objects.get(username="crew-nord"))
    queue = client.get("/crew/")
    assert queue.status_code == 200 and f"#{ticket.pk}" in queue.content.decode()
    page = client.get(f"/crew/tickets/{ticket.pk}/").content.decode()
    assert f"geo:{ticket.location.y:.6f},{ticket.location.x:.6f}" in page
    assert 'capture="environment"' in page
    assert client.get("/crew/plan/").status_code == 200


def test_page_close_with_photo_and_the_stale_form_gets_a_conflict(client):
    ticket = _ticket()
    client.force_login(User.objects.get(username="crew-nord"))
    form = {"action": "close", "expected_version": ticket.version, "idempotency_key": "p1"}
    done = client.post(f"/crew/tickets/{ticket.pk}/", {**form, "photo": upload(jpeg_bytes())})
    assert done.status_code == 302
    again = client.post(
        f"/crew/tickets/{ticket.pk}/",
        {**form, "idempotency_key": "p2", "photo": upload(jpeg_bytes())},
    )
    assert again.status_code == 409
    assert "changed meanwhile" in again.content.decode()


def test_page_resend_with_the_key_for_another_action_is_refused(client):
    ticket = _ticket()
    client.force_login(User.objects.get(username="crew-nord"))
    form = {"expected_version": ticket.version, "idempotency_key": "p3"}
    assert (
        client.post(f"/crew/tickets/{ticket.pk}/", {**form, "action": "start"}).status_code == 302
    )
    refused = client.post(
        f"/crew/tickets/{ticket.pk}/", {**form, "action": "reject", "reason": "not_found"}
    )
    assert refused.status_code == 422
    ticket.refresh_from_db()
    assert ticket.status == S.IN_PROGRESS


def test_queue_page_needs_a_crew_member(client):
    assert client.get("/crew/").status_code == 302
    client.force_login(User.objects.get(username="dispatcher"))
    assert client.get("/crew/").status_code == 403


def test_service_worker_is_served_under_crew_with_its_scope(client):
    answer = client.get("/crew/sw.js")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/javascript")
    assert answer["Service-Worker-Allowed"] == "/crew/"
    assert "caches.open" in answer.content.decode()


def test_token_model_is_installed():
    user = User.objects.get(username="crew-nord")
    assert Token.objects.get_or_create(user=user)[0].key
