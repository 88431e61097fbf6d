import re

import pytest
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from crews.services import report_dispatch
from districts.models import District
from reports.models import Report
from reports.services import report_create
from tests.conftest import gps_exif, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/"
PRIVATE_KEYS = {"reporter_email", "email", "reporter_name", "reporter_phone", "tracking_token"}


@pytest.fixture
def client():
    return APIClient(headers={"Accept-Language": "en"})


def _post(client, headers=None, **fields):
    data = {"category": "bulky_waste", "lat": "51.0655", "lon": "13.7535", "description": "Sofa"}
    data.update(fields)
    data.setdefault("photo", upload(jpeg_bytes()))
    return client.post(URL, data, format="multipart", headers=headers or {})


def test_submit_in_the_neustadt_returns_district_crew_and_due_date(client):
    response = _post(client, email="anwohnerin@example.org")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "Feature"
    assert body["geometry"]["coordinates"] == pytest.approx([13.7535, 51.0655])
    props = body["properties"]
    assert props["district"] == "neustadt" and props["district_name"] == "Neustadt"
    assert props["crew"] == "Sperrmüll-Team"
    assert props["due_at"] and props["status"] == "assigned"
    assert props["tracking_token"]  # shown once, to the submitter
    assert "anwohnerin@example.org" not in response.content.decode()
    report = Report.objects.get(pk=body["id"])
    assert report.reporter_email == "anwohnerin@example.org"


def test_submit_in_berlin_is_refused_with_a_readable_message(client):
    response = _post(client, lat="52.52", lon="13.405")
    assert response.status_code == 400
    assert "outside the area this service covers" in response.json()["location"][0]
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("fields", "key", "text"),
    [
        ({"category": "unicorns"}, "category", "Unknown category"),
        ({"lat": "91", "lon": "13.7"}, "lat", "less than or equal to 90"),
        ({"lat": "abc"}, "lat", "valid number"),
        ({"photo": upload(b"not an image", "x.jpg")}, "photo", "not a photo we can read"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(client, fields, key, text):
    response = _post(client, **fields)
    assert response.status_code == 400
    assert text in str(response.json()[key])
    assert not Report.objects.exists()


def test_photo_required_by_category(client):
    response = client.post(
        URL, {"category": "bulky_waste", "lat": "51.0655", "lon": "13.7535"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["photo"] == ["A photo is required for this category."]


def test_location_from_photo_gps_when_no_coordinates_are_sent(client):
    response = client.post(
        URL,
        {"category": "litter", "photo": upload(jpeg_bytes(exif=gps_exif(51.0519, 13.7416)))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["properties"]["district"] == "altstadt"


def test_retry_with_the_same_idempotency_key_returns_the_first_report(client):
    headers = {"Idempotency-Key": "2f1c-retry-on-bus"}
    first = _post(client, headers=headers)
    second = _post(client, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Report.objects.count() == 1
    assert Report.objects.get().photos.count() == 1


def test_several_photos_in_one_submission(client):
    response = client.post(
        URL,
        {
            "category": "litter",
            "lat": "51.0655",
            "lon": "13.7535",
            "photo": [upload(jpeg_bytes(), "a.jpg"), upload(jpeg_bytes(), "b.jpg")],
        },
        format="multipart",
    )
    assert response.status_code == 201
    assert Report.objects.get().photos.count() == 2


def _make(lon: float, lat: float, category: str = "litter", email: str = "x@example.org") -> Report:
    report, _ = report_create(
        category=category, location=Point(lon, lat, srid=4326), email=email, reporter_phone="0351"
    )
    report_dispatch(report=report)
    return report


def test_list_is_geojson_without_contact_data_and_filters(client):
    neustadt = _make(13.7535, 51.0655)
    altstadt = _make(13.7416, 51.0519, category="graffiti")
    body = client.get(URL).json()
    assert body["type"] == "FeatureCollection" and body["count"] == 2
    for feature in body["features"]:
        assert not PRIVATE_KEYS & set(feature["properties"])
    assert "x@example.org" not in str(body) and "0351" not in str(body)
    ids = lambda q: [f["id"] for f in client.get(URL + q).json()["features"]]  # noqa: E731
    assert ids("?district=neustadt") == [neustadt.pk]
    assert ids("?category=graffiti") == [altstadt.pk]
    assert ids("?bbox=13.75,51.06,13.76,51.07") == [neustadt.pk]
    assert ids("?status=assigned,in_progress") and ids("?status=cleared") == []
    assert client.get(URL + "?bbox=1,2,3").status_code == 400


def test_list_query_count_does_not_grow_with_reports(client, django_assert_max_num_queries):
    for i in range(12):
        _make(13.74 + i * 0.001, 51.06)
    with django_assert_max_num_queries(5):
        assert len(client.get(URL).json()["features"]) == 12


def test_detail_and_404(client):
    report = _make(13.7535, 51.0655)
    body = client.get(f"{URL}{report.pk}/").json()
    assert body["id"] == report.pk and body["properties"]["crew"] == "Stadtreinigung Nord"
    assert client.get(f"{URL}999999/").status_code == 404


def test_route_preview_answers_without_creating_anything(client):
    response = client.get("/api/v1/route/?lat=51.0655&lon=13.7535&category=bulky_waste")
    assert response.status_code == 200
    body = response.json()
    assert body["district"] == {"code": "neustadt", "name": "Neustadt"}
    assert body["crew"]["code"] == "sperrmuell" and body["unassigned"] is False
    assert body["due_at"]
    assert not Report.objects.exists()
    berlin = client.get("/api/v1/route/?lat=52.52&lon=13.405&category=litter")
    assert berlin.status_code == 400 and "outside" in berlin.json()["location"][0]
    assert client.get("/api/v1/route/?lat=51.06&lon=13.75").status_code == 400


def test_route_preview_shows_unassigned_where_no_crew_serves(client):
    point = District.objects.get(code="oberwartha").boundary.point_on_surface
    body = client.get(f"/api/v1/route/?lat={point.y}&lon={point.x}&category=litter").json()
    assert body["district"]["code"] == "oberwartha" and body["unassigned"] is True


def test_categories_and_districts(client):
    categories = client.get("/api/v1/categories/").json()
    bulky = next(c for c in categories if c["code"] == "bulky_waste")
    assert bulky["photo_required"] and bulky["attributes"][0]["code"] == "volume"
    districts = client.get("/api/v1/districts/").json()
    assert districts["type"] == "FeatureCollection" and len(districts["features"]) == 19


def test_openapi_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/reports/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    # Every script and style comes from our own host: no URL names a CDN (a random CSP nonce
    # may well contain the letters "cdn", so look at the addresses only).
    addresses = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', docs) + re.findall(
        r'["\'](https?://[^"\']+)', docs
    )
    assert addresses
    assert not [a for a in addresses if re.match(r"(https?:)?//", a)], addresses
    assert "/static/drf_spectacular_sidecar/" in docs
