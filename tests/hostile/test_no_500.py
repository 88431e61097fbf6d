"""The inputs that answered 500, each now a readable 4xx that stores nothing; and errors in the
form each client reads (JSON under /api/, Open311's document under /open311/)."""

import pytest
from django.test import Client

from api.open311.keys import client_create
from reports.models import Report
from tests.conftest import NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEUSTADT = {"lat": str(NEUSTADT_POINT.y), "lon": str(NEUSTADT_POINT.x)}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    return Client(headers={"Accept-Language": "en"})


def _no_report() -> None:
    assert Report.objects.count() == 0


@pytest.mark.parametrize("field", ["description", "place"])
def test_nul_in_the_html_form_is_a_readable_400(client, field):
    data = {"category": "litter", **NEUSTADT, "description": "Müll", "place": "Ecke"}
    data[field] = "Müll\x00am Zaun"
    response = client.post("/report/new/", data)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    _no_report()


def test_nul_in_the_open311_description_is_an_open311_error(client):
    key = client_create(name="app")[1]
    data = {
        "api_key": key,
        "service_code": "litter",
        "lat": NEUSTADT["lat"],
        "long": NEUSTADT["lon"],
    }
    response = client.post("/open311/v2/requests.json", {**data, "description": "a\x00b"})
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400 and "NUL" in response.json()[0]["description"]
    xml = client.post("/open311/v2/requests.xml", {**data, "description": "a\x00b"})
    assert xml.status_code == 400 and b"<errors><error><code>400</code>" in xml.content
    _no_report()


def test_nul_in_the_tracking_address_is_a_400(client):
    response = client.get("/r/%00/")
    assert response.status_code == 400 and "NUL" in response.content.decode()


def test_nul_in_any_query_parameter_is_a_json_400(client):
    crew = UserFactory(username="nul-crew")
    client.force_login(crew)
    for url in ("/api/v1/reports/?category=%00", "/api/v1/crew/tickets/?crew=a%00b"):
        response = client.get(url)
        assert response.status_code == 400 and "NUL" in response.json()["detail"]


def test_queue_with_lat_but_no_lon_is_a_400(client):
    client.force_login(UserFactory(username="crew-nord"))
    response = client.get("/api/v1/crew/tickets/", {"lat": "51.05"})
    assert response.status_code == 400
    assert "together" in response.json()["lon"][0]
    response = client.get("/api/v1/crew/tickets/", {"lon": "13.7"})
    assert response.status_code == 400 and "lat" in response.json()


def test_unmatched_api_path_is_a_json_404(client):
    for url in ("/api/v1/nothing-here/", "/api/v1/reports/abc/", "/api/v2/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"] == "There is nothing at this address."


def test_wrong_method_under_api_is_a_json_405(client):
    for url in ("/api/v1/categories/", "/api/v1/districts/"):
        response = client.delete(url)
        assert response.status_code == 405 and "detail" in response.json()
        assert "GET" in response["Allow"]


def test_a_crash_under_api_is_a_json_500(client, monkeypatch):
    import api.views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.views, "category_list", broken)
    client.raise_request_exception = False
    response = client.get("/api/v1/categories/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert (
        "Something went wrong" in response.json()["detail"]
        and "boom" not in response.content.decode()
    )


def test_a_crash_under_open311_is_its_error_document(client, monkeypatch):
    import api.open311.views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.open311.views, "category_list", broken)
    client.raise_request_exception = False
    response = client.get("/open311/v2/services.json")
    assert response.status_code == 500
    assert response.json()[0]["code"] == 500
    xml = client.get("/open311/v2/services.xml")
    assert xml.status_code == 500 and b"<errors><error><code>500</code>" in xml.content


def test_unknown_open311_path_is_its_error_document(client):
    response = client.get("/open311/nothing.json")
    assert response.status_code == 404 and response.json()[0]["code"] == 404
