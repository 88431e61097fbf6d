"""The small JSON endpoints behind the report form: nearby duplicates, confirmations and the
address search."""

import pytest
from django.contrib.gis.geos import Point
from django.core.cache import cache
from rest_framework.test import APIClient

from crews.services import report_dispatch
from districts.models import Address, District
from reports.models import Report, ReportEvent
from reports.services import report_create, report_transition

pytestmark = pytest.mark.django_db
LAT, LON = 51.0655, 13.7535
METRE = 1 / 111_195  # degrees of latitude


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Submissions are rate-limited per address; earlier tests must not use up the allowance.
    cache.clear()


@pytest.fixture
def client():
    return APIClient(headers={"Accept-Language": "en"})


def _report(category="litter", north_m: float = 0, email="x@example.org") -> Report:
    report, _ = report_create(
        category=category, location=Point(LON, LAT + north_m * METRE, srid=4326), email=email
    )
    report_dispatch(report=report)
    return report


def _nearby(client, category="litter", north_m: float = 0) -> list[dict]:
    response = client.get(
        "/api/v1/reports/nearby/",
        {"lat": LAT + north_m * METRE, "lon": LON, "category": category},
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_nearby_finds_open_reports_of_the_category_within_30_m(client):
    near = _report(north_m=10)
    also = _report(north_m=-25)
    _report(north_m=40)
    _report(category="graffiti", north_m=5)
    cleared = _report(north_m=3)
    report_transition(report=cleared, to=Report.Status.CLEARED, note="weg")
    results = _nearby(client)
    assert [r["id"] for r in results] == [near.pk, also.pk]  # nearest first
    assert results[0]["distance_m"] == 10
    assert results[0]["page_url"] == f"/reports/{near.pk}/"
    assert "x@example.org" not in str(results)
    assert "tracking_token" not in results[0]


def test_nearby_needs_a_known_category_and_coordinates(client):
    response = client.get("/api/v1/reports/nearby/", {"lat": LAT, "lon": LON, "category": "x"})
    assert response.status_code == 400 and "Unknown category" in str(response.json())
    assert client.get("/api/v1/reports/nearby/", {"category": "litter"}).status_code == 400


def test_confirm_counts_and_records_a_confirmation(client):
    report = _report()
    response = client.post(f"/api/v1/reports/{report.pk}/confirm/")
    assert response.status_code == 200
    assert response.json()["confirmations_count"] == 1
    assert report.events.filter(kind=ReportEvent.Kind.CONFIRMED).count() == 1
    assert Report.objects.count() == 1


def test_confirming_a_closed_report_is_refused(client):
    report = _report()
    report_transition(report=report, to=Report.Status.CLEARED, note="weg")
    response = client.post(f"/api/v1/reports/{report.pk}/confirm/")
    assert response.status_code == 400
    assert client.post("/api/v1/reports/999999/confirm/").status_code == 404


def test_address_search_answers_positions_and_districts(client):
    neustadt = District.objects.get(code="neustadt")
    Address.objects.create(
        street="Alaunstraße",
        house_number="12",
        postcode="01099",
        location=Point(13.7531, 51.0660, srid=4326),
        district=neustadt,
    )
    results = client.get("/api/v1/addresses/", {"q": "alaunstr 12"}).json()["results"]
    assert results == [
        {
            "street": "Alaunstraße",
            "house_number": "12",
            "postcode": "01099",
            "label": "Alaunstraße 12, 01099",
            "lat": pytest.approx(51.0660),
            "lon": pytest.approx(13.7531),
            "district": "Neustadt",
        }
    ]
    assert client.get("/api/v1/addresses/", {"q": "zz"}).json()["results"] == []
