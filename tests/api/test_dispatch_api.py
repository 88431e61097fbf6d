import csv
import io
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from crews.models import Assignment
from crews.services import report_dispatch
from reports.models import Report
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API_GETS = [
    "/api/v1/dispatch/tickets/",
    "/api/v1/dispatch/stats/",
    "/api/v1/dispatch/hotspots/",
    "/api/v1/dispatch/export.csv",
    "/api/v1/dispatch/export.geojson",
]
PAGES = [
    "/dispatch/",
    "/dispatch/stats/",
    "/dispatch/hotspots/",
    "/dispatch/live/",
]


def _api(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.parametrize("who", ["resident", "crew member"])
def test_residents_and_crew_members_are_refused_everywhere(who, ticket):
    user = (
        UserFactory(username="resident")
        if who == "resident"
        else User.objects.get(username="crew-nord")
    )
    for url in API_GETS:
        assert _api(user).get(url).status_code == 403, url
    response = _api(user).post(
        f"/api/v1/dispatch/tickets/{ticket.pk}/reassign/", {"crew": "mitte", "reason": "x"}
    )
    assert response.status_code == 403
    assert ticket.assignments.count() == 1
    page_client = Client()
    page_client.force_login(user)
    for url in PAGES:
        assert page_client.get(url).status_code == 403, url
    assert (
        page_client.post(f"/dispatch/reports/{ticket.pk}/priority/", {"priority": 2}).status_code
        == 403
    )
    ticket.refresh_from_db()
    assert ticket.priority == 0


def test_anonymous_callers_get_no_data_and_pages_ask_to_sign_in():
    for url in API_GETS:
        assert _api().get(url).status_code in (401, 403), url
    response = Client().get("/dispatch/")
    assert response.status_code == 302 and response["Location"].startswith("/dispatch/login/")


def test_dispatcher_and_superuser_get_in(dispatcher, ticket):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    for user in (dispatcher, admin):
        body = _api(user).get("/api/v1/dispatch/tickets/").json()
        assert body["type"] == "FeatureCollection"
        feature = next(f for f in body["features"] if f["id"] == ticket.pk)
        assert feature["properties"]["state"] == "on_time"
        assert feature["properties"]["crew"] == "nord"
        assert sum(body["counts"].values()) == len(body["features"])
    client = Client()
    client.force_login(dispatcher)
    for url in PAGES[:3] + [f"/dispatch/reports/{ticket.pk}/"]:
        assert client.get(url).status_code == 200, url


def test_open_tickets_are_fetched_in_a_fixed_number_of_queries(
    dispatcher, ticket, django_assert_max_num_queries
):
    for _ in range(5):
        report, _ = report_create(category="glass", location=NEUSTADT_POINT)
        report_dispatch(report=report)
    with django_assert_max_num_queries(6):
        assert len(_api(dispatcher).get("/api/v1/dispatch/tickets/").json()["features"]) == 6


def test_reassign_through_the_api_needs_a_reason_and_keeps_history(dispatcher, ticket):
    url = f"/api/v1/dispatch/tickets/{ticket.pk}/reassign/"
    assert _api(dispatcher).post(url, {"crew": "mitte"}).status_code == 400
    response = _api(dispatcher).post(url, {"crew": "mitte", "reason": "Nord ist krank"})
    assert response.status_code == 200, response.content
    assert response.json()["crew"] == "mitte"
    crews = list(
        Assignment.objects.filter(report=ticket).order_by("id").values_list("crew__code", "active")
    )
    assert crews == [("nord", False), ("mitte", True)]


def test_other_actions_through_the_api(dispatcher, ticket):
    api = _api(dispatcher)
    base = f"/api/v1/dispatch/tickets/{ticket.pk}"
    assert api.post(f"{base}/priority/", {"priority": 2}).json()["priority"] == 2
    body = api.post(f"{base}/category/", {"category": "glass"}).json()
    assert body["category"] == "glass"
    other, _ = report_create(category="glass", location=NEUSTADT_POINT)
    report_dispatch(report=other)
    merged = api.post(f"/api/v1/dispatch/tickets/{other.pk}/merge/", {"into": ticket.pk})
    assert merged.status_code == 200 and merged.json()["confirmations_count"] == 1
    assert api.post(f"{base}/reopen/", {"reason": "x"}).status_code == 400  # not cleared


def test_page_actions_redirect_back_with_a_message(dispatcher, ticket):
    client = Client()
    client.force_login(dispatcher)
    response = client.post(
        f"/dispatch/reports/{ticket.pk}/reassign/",
        {"crew": "mitte", "reason": "Late: handed to another crew"},
        follow=True,
    )
    assert response.status_code == 200
    assert ticket.assignments.get(active=True).crew.code == "mitte"
    refused = client.post(f"/dispatch/reports/{ticket.pk}/reassign/", {"crew": "ost"}, follow=True)
    assert "needs a reason" in refused.content.decode()
    assert ticket.assignments.get(active=True).crew.code == "mitte"


def test_csv_export_opens_in_german_spreadsheets_and_has_no_personal_data(dispatcher, ticket):
    response = _api(dispatcher).get("/api/v1/dispatch/export.csv", {"sep": "semicolon"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, row = rows[0], rows[1]
    assert header[:4] == ["id", "category", "category_name", "status"]
    record = dict(zip(header, row, strict=True))
    assert record["id"] == str(ticket.pk) and record["district_name"] == "Neustadt"
    assert record["category_name"] == ticket.category.name_de  # umlauts survive
    for private in ("anwohner@example.org", "Erika", "1234567", "Meier", ticket.tracking_token):
        assert private not in text
    comma = _api(dispatcher).get("/api/v1/dispatch/export.csv").content.decode("utf-8-sig")
    assert comma.splitlines()[0].startswith("id,category,category_name")


def _german_number(text: str) -> float:
    """How a German spreadsheet reads a number: '.' groups thousands, ',' is the decimal mark."""
    return float(text.replace(".", "").replace(",", "."))


def test_the_semicolon_csv_has_decimal_commas_and_the_default_stays_machine_readable(
    dispatcher, ticket
):
    public = ticket.public_location
    german = _api(dispatcher).get("/api/v1/dispatch/export.csv", {"sep": "semicolon"})
    rows = list(csv.DictReader(io.StringIO(german.content.decode("utf-8-sig")), delimiter=";"))
    record = next(r for r in rows if r["id"] == str(ticket.pk))
    assert "," in record["lat"] and "." not in record["lat"]
    assert _german_number(record["lat"]) == pytest.approx(public.y, abs=1e-6)
    assert _german_number(record["lon"]) == pytest.approx(public.x, abs=1e-6)
    assert _german_number(record["priority"]) == ticket.priority

    machine = _api(dispatcher).get("/api/v1/dispatch/export.csv")
    rows = list(csv.DictReader(io.StringIO(machine.content.decode("utf-8-sig"))))
    record = next(r for r in rows if r["id"] == str(ticket.pk))
    assert float(record["lat"]) == pytest.approx(public.y, abs=1e-6)
    assert float(record["lon"]) == pytest.approx(public.x, abs=1e-6)


def test_geojson_export_filters_and_has_no_personal_data(dispatcher, ticket):
    cleared, _ = report_create(category="glass", location=NEUSTADT_POINT)
    Report.objects.filter(pk=cleared.pk).update(status="cleared")
    response = _api(dispatcher).get("/api/v1/dispatch/export.geojson", {"status": "open"})
    body = json.loads(response.content)
    assert [f["id"] for f in body["features"]] == [ticket.pk]
    assert body["features"][0]["geometry"]["coordinates"] == pytest.approx([13.7535, 51.0655])
    assert "anwohner@example.org" not in response.content.decode()
    assert "description" not in body["features"][0]["properties"]
    other = _api(dispatcher).get("/api/v1/dispatch/export.geojson", {"district": "altstadt"})
    assert json.loads(other.content)["features"] == []


def test_stats_and_hotspots_endpoints(dispatcher, ticket):
    body = _api(dispatcher).get("/api/v1/dispatch/stats/").json()
    assert body["summary"]["received"] == 1
    assert {row["code"] for row in body["districts"]} >= {"neustadt", "altstadt"}
    assert body["weekly"]
    for _ in range(2):
        report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    hot = _api(dispatcher).get("/api/v1/dispatch/hotspots/", {"radius": 20, "min_count": 3})
    feature = hot.json()["features"][0]
    assert feature["properties"]["count"] == 3 and feature["properties"]["crew"] == "nord"
    lon, lat = feature["geometry"]["coordinates"]
    created = _api(dispatcher).post(
        "/api/v1/dispatch/preventive-tasks/",
        {"lat": lat, "lon": lon, "radius_m": 20, "category": "litter", "report_count": 3},
    )
    assert created.status_code == 201 and created.json()["crew"] == "nord"


def test_stats_page_answers_share_on_time_per_district_and_links_exports(dispatcher, ticket):
    from reports.services import report_transition

    report_transition(report=ticket, to=Report.Status.CLEARED, note="weg")
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(dispatcher)
    page = client.get("/dispatch/stats/", {"preset": "last_30"}).content.decode()
    assert 'id="fig-on-time">100 %' in page  # cleared long before its deadline
    assert "Neustadt" in page and "district-table" in page
    assert "/api/v1/dispatch/export.csv?" in page and "sep=semicolon" in page
    assert client.get("/dispatch/stats/", {"preset": "last_month"}).status_code == 200


def test_hotspot_page_turns_a_hotspot_into_a_preventive_round(dispatcher, ticket):
    from crews.models import PreventiveTask

    for _ in range(2):
        report_create(category="litter", location=NEUSTADT_POINT)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(dispatcher)
    page = client.get("/dispatch/hotspots/", {"radius": 30, "min_count": 3}).content.decode()
    assert "hotspot-table" in page and 'name="report_count" value="3"' in page
    response = client.post(
        "/dispatch/hotspots/preventive/",
        {
            "lat": "51.0655",
            "lon": "13.7535",
            "radius_m": "12.5",
            "category": "litter",
            "report_count": "3",
            "crew": "nord",
            "interval_days": "14",
        },
        follow=True,
    )
    assert response.status_code == 200
    task = PreventiveTask.objects.get()
    assert (task.crew.code, task.interval_days, task.report_count) == ("nord", 14, 3)
    assert task.created_by == dispatcher
