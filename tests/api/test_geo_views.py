"""The public map layer as GeoJSON built by PostGIS: same features as drf-gis would write, no
personal data, filters, HTTP caching."""

import json
from datetime import datetime

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from api.geo_views import ReportMapSerializer, report_map_queryset
from districts.models import District
from reports.models import Category, Report

pytestmark = pytest.mark.django_db

URL = "/api/v1/map/reports.geojson"
PRIVATE = ["anwohner@example.org", "Erika Mustermann", "+49 351 999", "secret-token-"]


@pytest.fixture
def reports():
    bulky = Category.objects.get(code="bulky_waste")
    other = Category.objects.exclude(code="bulky_waste").first()
    neustadt = District.objects.get(code="neustadt")
    made = []
    for n, (lon, lat, category, status, district) in enumerate(
        [
            (13.7535, 51.0655, bulky, Report.Status.NEW, neustadt),
            (13.7540, 51.0660, other, Report.Status.ASSIGNED, neustadt),
            (13.7380, 51.0500, bulky, Report.Status.CLEARED, None),
            (13.8000, 51.0300, other, Report.Status.IN_PROGRESS, None),
        ]
    ):
        made.append(
            Report.objects.create(
                location=Point(lon, lat, srid=4326),
                category=category,
                status=status,
                district=district,
                description="Sofa am Straßenrand",
                reporter_email=PRIVATE[0],
                reporter_name=PRIVATE[1],
                reporter_phone=PRIVATE[2],
                tracking_token=f"{PRIVATE[3]}{n}",
                due_at=timezone.now(),
                closed_at=timezone.now() if status == Report.Status.CLEARED else None,
            )
        )
    return made


def _get(client, **params):
    response = client.get(URL, params)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def _normalise(feature: dict) -> dict:
    props = {}
    for key, value in feature["properties"].items():
        if isinstance(value, str) and key.endswith("_at"):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        props[key] = value
    return {
        "type": feature["type"],
        "geometry_type": feature["geometry"]["type"],
        "coordinates": [round(c, 6) for c in feature["geometry"]["coordinates"]],
        "properties": props,
    }


def test_geojson_is_what_drf_gis_would_write_for_the_same_rows(client, reports):
    response, body = _get(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    ours = json.loads(body)
    reference = json.loads(
        JSONRenderer().render(ReportMapSerializer(report_map_queryset(), many=True).data)
    )
    assert ours["type"] == reference["type"] == "FeatureCollection"
    assert len(ours["features"]) == 4
    assert [_normalise(f) for f in ours["features"]] == [
        _normalise(f) for f in reference["features"]
    ]


def test_geojson_carries_no_personal_data(client, reports):
    _, body = _get(client)
    text = body.decode()
    for secret in PRIVATE:
        assert secret not in text
    keys = set(json.loads(body)["features"][0]["properties"])
    assert not keys & {"reporter_email", "reporter_name", "reporter_phone", "tracking_token"}


def test_only_published_reports_at_their_public_location(client, reports):
    pending, hidden = reports[0], reports[1]
    Report.objects.filter(pk=pending.pk).update(moderation=Report.Moderation.PENDING)
    Report.objects.filter(pk=hidden.pk).update(moderation=Report.Moderation.HIDDEN)
    grid = Category.objects.get(code="bulky_waste")
    grid.public_grid_m = 250
    grid.save()
    coarse = Report.objects.create(
        location=Point(13.74123, 51.05321, srid=4326), category=grid, reporter_email=PRIVATE[0]
    )
    _, body = _get(client)
    features = {f["properties"]["id"]: f for f in json.loads(body)["features"]}
    assert pending.pk not in features and hidden.pk not in features
    x, y = features[coarse.pk]["geometry"]["coordinates"]
    assert (x, y) == pytest.approx((coarse.public_location.x, coarse.public_location.y), abs=1e-6)
    assert (x, y) != pytest.approx((13.74123, 51.05321), abs=1e-5)


def test_filters_by_bbox_status_and_category(client, reports):
    _, body = _get(client, bbox="13.75,51.06,13.76,51.07")
    assert {f["properties"]["id"] for f in json.loads(body)["features"]} == {
        reports[0].pk,
        reports[1].pk,
    }
    _, body = _get(client, bbox="13.75,51.06,13.76,51.07", status="new")
    assert [f["properties"]["id"] for f in json.loads(body)["features"]] == [reports[0].pk]
    _, body = _get(client, category="bulky_waste", status="new,cleared")
    assert {f["properties"]["id"] for f in json.loads(body)["features"]} == {
        reports[0].pk,
        reports[2].pk,
    }
    _, body = _get(client, bbox="0,0,1,1")
    assert json.loads(body) == {"type": "FeatureCollection", "features": []}


def test_a_broken_bbox_is_a_400(client, reports):
    response, _ = _get(client, bbox="13.7,51.0,13.6")
    assert response.status_code == 400


def test_etag_gives_304_until_a_report_changes(client, reports):
    response, _ = _get(client)
    etag = response["ETag"]
    assert "max-age" in response["Cache-Control"] and "public" in response["Cache-Control"]
    assert response["Last-Modified"]
    again = client.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304
    reports[0].status = Report.Status.ASSIGNED
    reports[0].save()
    changed = client.get(URL, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_keyset_pages_newest_first_with_a_link_to_the_next(client, reports):
    first = client.get(URL, {"limit": 3})
    ids = [f["properties"]["id"] for f in json.loads(first.content)["features"]]
    assert ids == sorted((r.pk for r in reports), reverse=True)[:3]
    link = first["Link"]
    assert f"before={ids[-1]}" in link and 'rel="next"' in link
    rest = client.get(URL, {"limit": 3, "before": ids[-1]})
    assert [f["properties"]["id"] for f in json.loads(rest.content)["features"]] == [reports[0].pk]
    assert "Link" not in rest
    assert client.get(URL, {"limit": 0}).status_code == 400


def test_one_report_as_a_feature_and_not_when_unpublished(client, reports):
    response = client.get(f"/api/v1/map/reports/{reports[1].pk}.geojson")
    assert response.status_code == 200
    feature = json.loads(response.content)
    assert feature["type"] == "Feature" and feature["properties"]["status"] == "assigned"
    assert (
        client.get(
            f"/api/v1/map/reports/{reports[1].pk}.geojson",
            headers={"If-None-Match": response["ETag"]},
        ).status_code
        == 304
    )
    Report.objects.filter(pk=reports[1].pk).update(moderation=Report.Moderation.PENDING)
    assert client.get(f"/api/v1/map/reports/{reports[1].pk}.geojson").status_code == 404
