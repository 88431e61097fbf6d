"""Every public output shows the coarse point of sensitive categories and nothing that is not
published; staff outputs keep the exact point. Abuse limits answer a clear 429."""

import csv
import io
import json

import pytest
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from crews.services import report_dispatch
from reports.geo import public_point
from reports.models import Report, ReportFlag
from reports.services import photo_moderate, report_create, report_moderate
from tests.conftest import jpeg_bytes, upload

# Tiles cached in this process only: a test sees its own reports' tiles, not another run's.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_tiles_cache")]

PIN = Point(13.74123, 51.05301, srid=4326)  # Altstadt
COARSE = public_point(point=PIN, grid_m=100)


def _client(user=None) -> APIClient:
    client = APIClient(headers={"Accept-Language": "en"})
    if user is not None:
        client.force_authenticate(user)
    return client


def _hazardous(description: str = "Spritzen im Gebüsch") -> Report:
    report, _ = report_create(
        category="hazardous", location=PIN, description=description, email="a@example.org"
    )
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def public_views(report: Report, dispatcher) -> dict:
    """What each public output says about the report: its point, or None when it is absent."""
    client = _client()
    seen = {}
    features = client.get("/api/v1/reports/", {"page_size": 1000}).json()["features"]
    match = [f for f in features if f["id"] == report.pk]
    seen["api list"] = match[0]["geometry"]["coordinates"] if match else None
    detail = client.get(f"/api/v1/reports/{report.pk}/")
    seen["api detail"] = (
        detail.json()["geometry"]["coordinates"] if detail.status_code == 200 else None
    )
    requests = client.get("/open311/v2/requests.json").json()
    match = [r for r in requests if r["service_request_id"] == report.pk]
    seen["open311 list"] = [match[0]["long"], match[0]["lat"]] if match else None
    one = client.get(f"/open311/v2/requests/{report.pk}.json")
    # A pre-moderated request still answers its id (status only), but never with its place.
    point = [one.json()[0].get("long"), one.json()[0].get("lat")] if one.status_code == 200 else []
    seen["open311 detail"] = point if any(v is not None for v in point) else None
    features = client.get("/map/reports.geojson").json()["features"]
    match = [f for f in features if f["properties"]["id"] == report.pk]
    seen["public map"] = match[0]["geometry"]["coordinates"] if match else None
    page = client.get(f"/reports/{report.pk}/")
    seen["report page"] = page.status_code == 200 or None
    layer = client.get("/api/v1/map/reports.geojson")
    features = json.loads(b"".join(layer.streaming_content) if layer.streaming else layer.content)
    match = [f for f in features["features"] if f["properties"]["id"] == report.pk]
    seen["map layer"] = match[0]["geometry"]["coordinates"] if match else None
    one = client.get(f"/api/v1/map/reports/{report.pk}.geojson")
    seen["map feature"] = one.json()["geometry"]["coordinates"] if one.status_code == 200 else None
    seen["vector tile"] = _in_tile(client, report)
    exports = _client(dispatcher).get("/api/v1/dispatch/export.geojson").json()["features"]
    match = [f for f in exports if f["id"] == report.pk]
    seen["geojson export"] = match[0]["geometry"]["coordinates"] if match else None
    text = _client(dispatcher).get("/api/v1/dispatch/export.csv").content.decode("utf-8-sig")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    row = rows.get(str(report.pk))
    seen["csv export"] = [float(row["lon"]), float(row["lat"])] if row else None
    return seen


def _in_tile(client, report: Report) -> list[float] | None:
    """The report's point as drawn in the z16 vector tile around its public point, or None."""
    import math

    import mapbox_vector_tile

    zoom = 16
    n = 2**zoom
    x = int((COARSE.x + 180) / 360 * n)
    lat = math.radians(COARSE.y)
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    response = client.get(f"/api/v1/tiles/reports/{zoom}/{x}/{y}.pbf")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    layers = mapbox_vector_tile.decode(body) if body else {}
    for layer in layers.values():
        extent = layer.get("extent", 4096)
        for feature in layer["features"]:
            if feature.get("id", feature["properties"].get("id")) == report.pk:
                px, py = feature["geometry"]["coordinates"]
                lon = (x + px / extent) / n * 360 - 180
                lat_r = math.atan(math.sinh(math.pi * (1 - 2 * (y + 1 - py / extent) / n)))
                return [lon, math.degrees(lat_r)]
    return None


def test_pre_moderated_report_is_in_no_public_output_until_approved(
    dispatcher, django_capture_on_commit_callbacks
):
    report = _hazardous()
    assert report.moderation == Report.Moderation.PENDING
    assert public_views(report, dispatcher) == dict.fromkeys(
        [
            "api list",
            "api detail",
            "open311 list",
            "open311 detail",
            "public map",
            "report page",
            "map layer",
            "map feature",
            "vector tile",
            "geojson export",
            "csv export",
        ]
    )
    # The resident's own tracking page still shows it.
    assert _client().get(f"/r/{report.tracking_token}/").status_code == 200
    # Dispatchers and crews work with it at the exact point.
    tickets = _client(dispatcher).get("/api/v1/dispatch/tickets/").json()["features"]
    mine = [t for t in tickets if t["id"] == report.pk or t["properties"].get("id") == report.pk]
    assert mine and mine[0]["geometry"]["coordinates"] == pytest.approx([PIN.x, PIN.y])

    with django_capture_on_commit_callbacks(execute=True):  # cached tiles drop after commit
        report_moderate(report=report, action="approve")
    seen = public_views(report, dispatcher)
    assert seen.pop("report page") is True
    tile = seen.pop("vector tile")
    for output, coordinates in seen.items():
        # Every public output: the grid-cell centre, not the exact point.
        assert coordinates == pytest.approx([COARSE.x, COARSE.y], abs=2e-6), output
        assert coordinates != pytest.approx([PIN.x, PIN.y], abs=1e-5), output
    # A z16 tile has about 0.6 m per tile unit: the coarse point, at least 10 m off the exact one.
    assert tile == pytest.approx([COARSE.x, COARSE.y], abs=2e-5)
    assert abs(tile[0] - PIN.x) + abs(tile[1] - PIN.y) > 1e-4


def test_report_hidden_by_staff_leaves_every_public_output(
    dispatcher, django_capture_on_commit_callbacks
):
    report, _ = report_create(category="litter", location=PIN)
    seen = public_views(report, dispatcher)
    assert seen.pop("report page") is True
    # Not sensitive: the exact point everywhere.
    assert all(c == pytest.approx([PIN.x, PIN.y], abs=2e-6) for c in seen.values())
    with django_capture_on_commit_callbacks(execute=True):  # cached tiles drop after commit
        report_moderate(report=report, action="hide", reason="Beleidigung im Text")
    assert set(public_views(report, dispatcher).values()) == {None}


def test_hidden_description_and_photo_show_hidden_by_the_city(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report, _ = report_create(
            category="litter",
            location=PIN,
            description="Herr Müller aus Nr. 5 war es",
            photos=[upload(jpeg_bytes()), upload(jpeg_bytes(colour=(10, 10, 200)))],
        )
    report_moderate(report=report, action="hide_description", reason="names a person")
    photo = report.photos.order_by("id").first()
    public_file = photo.public_image.name
    photo_moderate(photo=photo, hide=True, reason="shows a person")
    body = _client().get(f"/api/v1/reports/{report.pk}/").json()["properties"]
    assert body["description"] == "" and body["description_hidden"] == "hidden by the city"
    assert len(body["photos"]) == 1 and body["photos_hidden"] == 1
    assert public_file not in json.dumps(body["photos"])
    # The public file of the hidden photo is gone (its name was guessable).
    assert not photo.public_image.storage.exists(public_file)
    entry = _client().get(f"/open311/v2/requests/{report.pk}.json").json()[0]
    assert not entry["description"]


def test_submitter_sees_pending_state_in_the_created_response(settings):
    response = _client().post(
        "/api/v1/reports/",
        {"category": "hazardous", "lat": PIN.y, "lon": PIN.x, "description": "Kanister"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["properties"]["moderation"] == "pending"
    assert body["geometry"]["coordinates"] == pytest.approx([COARSE.x, COARSE.y], abs=2e-6)


def _post(client, **extra):
    data = {"category": "litter", "lat": PIN.y, "lon": PIN.x, **extra}
    return client.post("/api/v1/reports/", data, REMOTE_ADDR=extra.pop("ip", "198.51.100.7"))


def test_submissions_are_limited_per_ip_with_a_clear_429(settings):
    settings.REPORT_SUBMIT_RATE_PER_IP = "2/hour"
    client = _client()
    assert _post(client).status_code == 201
    assert _post(client).status_code == 201
    refused = _post(client)
    assert refused.status_code == 429
    assert "Too many reports from your network" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 0
    # Another address may still send.
    assert (
        client.post(
            "/api/v1/reports/",
            {"category": "litter", "lat": PIN.y, "lon": PIN.x},
            REMOTE_ADDR="203.0.113.9",
        ).status_code
        == 201
    )
    assert Report.objects.count() == 3


def test_submissions_are_limited_per_email_from_any_address(settings):
    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "1/hour"
    client = _client()
    first = client.post(
        "/api/v1/reports/",
        {"category": "litter", "lat": PIN.y, "lon": PIN.x, "email": "spam@example.org"},
        REMOTE_ADDR="198.51.100.1",
    )
    assert first.status_code == 201
    again = client.post(
        "/api/v1/reports/",
        {"category": "litter", "lat": PIN.y, "lon": PIN.x, "email": "SPAM@example.org"},
        REMOTE_ADDR="198.51.100.2",
    )
    assert again.status_code == 429
    assert "e-mail address" in again.json()["detail"]


def test_a_filled_honeypot_is_refused():
    response = _client().post(
        "/api/v1/reports/",
        {"category": "litter", "lat": PIN.y, "lon": PIN.x, "website": "http://spam.example"},
    )
    assert response.status_code == 400
    assert "website" in response.json()["detail"]
    assert not Report.objects.exists()


def test_public_flag_goes_to_the_moderation_queue_and_is_rate_limited(settings, client):
    settings.REPORT_FLAG_RATE_PER_IP = "2/hour"
    report, _ = report_create(category="litter", location=PIN)
    api = _client()
    answer = api.post(f"/api/v1/reports/{report.pk}/flag/", {"reason": "Beleidigung"})
    assert answer.status_code == 202
    flag = report.flags.get(kind=ReportFlag.Kind.PUBLIC_FLAG)
    assert "Beleidigung" in flag.reason and flag.resolved_at is None
    # The page form shares the limit.
    assert client.post(f"/privacy/flag/{report.pk}/", {"reason": "x"}).status_code == 200
    refused = api.post(f"/api/v1/reports/{report.pk}/flag/", {"reason": "again"})
    assert refused.status_code == 429
    assert client.post(f"/privacy/flag/{report.pk}/", {"reason": "x"}).status_code == 429
    # Staff keeping it public resolves the flags.
    report_moderate(report=report, action="approve")
    assert not report.flags.filter(kind=ReportFlag.Kind.PUBLIC_FLAG, resolved_at=None).exists()


def test_unpublished_reports_cannot_be_flagged():
    report = _hazardous()
    assert _client().post(f"/api/v1/reports/{report.pk}/flag/").status_code == 404


def test_event_pages_list_nearby_reports_published_only_at_their_public_point():
    from frontend.views_events import open_reports_near

    pending = _hazardous()
    approved = _hazardous("Kanister")
    report_moderate(report=approved, action="approve")
    near = {r.pk: r for r in open_reports_near(point=PIN, meters=300)}
    assert pending.pk not in near
    assert near[approved.pk].location.coords == pytest.approx(COARSE.coords, abs=2e-6)
