"""While PostgreSQL or Redis is unreachable every client gets a 503 it can read, with
Retry-After -- never a bare 500 -- and a resident's form keeps what was typed. (The connection
loss is raised where the submission reaches the database; tests/faults/test_drills.py stops a
real PostgreSQL.)"""

import pytest
import redis
from django.db import OperationalError
from django.test import Client

import api.open311.submit
import api.views
import frontend.views
from api.open311.keys import client_create

pytestmark = [pytest.mark.django_db, pytest.mark.fault]

LOST = OperationalError("server closed the connection unexpectedly")


def _down(*args, **kwargs):
    raise LOST


def _client(language="en") -> Client:
    return Client(raise_request_exception=False, headers={"Accept-Language": language})


def test_api_clients_get_json_503_with_retry_after(monkeypatch):
    monkeypatch.setattr(api.views, "report_submit", _down)
    response = _client().post(
        "/api/v1/reports/", {"category": "litter", "lat": "51.0655", "lon": "13.7535"}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "try again in a minute" in response.json()["detail"]


def test_a_redis_outage_is_a_503_too(monkeypatch):
    def redis_down(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(api.views, "report_submit", redis_down)
    response = _client().post(
        "/api/v1/reports/", {"category": "litter", "lat": "51.0655", "lon": "13.7535"}
    )
    assert response.status_code == 503 and response.json()["detail"]


def test_open311_clients_get_their_error_document_with_503(monkeypatch):
    monkeypatch.setattr(api.open311.submit, "report_submit", _down)
    key = client_create(name="Test client", contact="it@example.org")[1]
    data = {"api_key": key, "service_code": "litter", "lat": "51.0655", "long": "13.7535"}
    response = _client().post("/open311/v2/requests.json", data)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()[0]["code"] == 503
    xml = _client().post("/open311/v2/requests.xml", data)
    assert xml.status_code == 503 and b"<code>503</code>" in xml.content


@pytest.mark.parametrize(
    ("language", "says", "button"),
    [
        ("de", "Bitte in einer Minute noch einmal versuchen", "Erneut senden"),
        ("en", "Please try again in a minute", "Send again"),
    ],
)
def test_residents_get_a_page_that_keeps_what_they_typed(monkeypatch, language, says, button):
    monkeypatch.setattr(frontend.views, "report_submit", _down)
    typed = {
        "category": "litter",
        "lat": "51.0655",
        "lon": "13.7535",
        "description": "Sperrmüll vor der Hausnummer 12",
        "email": "anwohnerin@example.org",
        "idempotency_key": "k-form-1",
    }
    response = _client(language).post("/report/new/", typed)
    html = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert says in html and button in html
    # Sent again from the page: the same fields, the same key (no second report).
    for name, value in typed.items():
        assert f'name="{name}" value="{value}"' in html
    assert "Server Error" not in html
