"""Every public GeoJSON output checked against RFC 7946: first by the `geojson` package's own
validator (a reader nobody here wrote), then by the rules it does not check — no `crs` member
(§4), positions as longitude, latitude within WGS 84 (§3.1.1, §4), and polygon rings by the
right-hand rule: exterior counter-clockwise, holes clockwise (§3.1.6)."""

import json

import geojson
import pytest
from rest_framework.test import APIClient

from demo.loaders import FIXTURES
from events.services import feed_import, venues_import
from tests.events.helpers import local

pytestmark = pytest.mark.django_db

PUBLIC = [
    ("/api/v1/reports/", {}),
    ("/api/v1/map/reports.geojson", {}),
    ("/map/reports.geojson", {}),
    ("/api/v1/map/districts.geojson", {}),
    ("/api/v1/districts/", {}),
    ("/api/v1/events/", {"start": "2026-11-01", "end": "2026-12-31"}),
]


def _signed_area(ring: list) -> float:
    """Shoelace sum: positive for a counter-clockwise ring in lon/lat."""
    edges = zip(ring[:-1], ring[1:], strict=True)
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in edges)


def _polygons(geometry: dict):
    if geometry["type"] == "Polygon":
        yield geometry["coordinates"]
    elif geometry["type"] == "MultiPolygon":
        yield from geometry["coordinates"]
    elif geometry["type"] == "GeometryCollection":
        for part in geometry["geometries"]:
            yield from _polygons(part)


def _positions(coordinates):
    if coordinates and isinstance(coordinates[0], int | float):
        yield coordinates
    else:
        for part in coordinates:
            yield from _positions(part)


def rfc7946_problems(document: dict) -> list[str]:
    problems = []
    parsed = geojson.loads(json.dumps(document))
    if not parsed.is_valid:
        problems.append(f"geojson validator: {parsed.errors()}")

    def walk(node, where):
        if isinstance(node, dict):
            if "crs" in node:
                problems.append(f"{where}: has a crs member")
            geometry = node.get("geometry") if node.get("type") == "Feature" else None
            if geometry:
                for position in _positions(geometry.get("coordinates") or []):
                    lon, lat = position[0], position[1]
                    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                        problems.append(f"{where}: position {position} outside WGS 84")
                    # Everything here is in Dresden: lon ≈ 13.7, lat ≈ 51.0, so swapped axes
                    # would show at once.
                    if not (12 < lon < 15 and 50 < lat < 52):
                        problems.append(f"{where}: position {position} not lon, lat in Dresden")
                for polygon in _polygons(geometry):
                    if _signed_area(polygon[0]) <= 0:
                        problems.append(f"{where}: exterior ring not counter-clockwise")
                    for hole in polygon[1:]:
                        if _signed_area(hole) >= 0:
                            problems.append(f"{where}: interior ring not clockwise")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for n, item in enumerate(node):
                walk(item, f"{where}[{n}]")

    walk(document, "$")
    return problems


def _body(response) -> dict:
    assert response.status_code == 200, response
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(raw)


@pytest.fixture
def events():
    venues_import(path=FIXTURES / "dresden_venues.csv")
    feed_import(
        source="dresden-demo",
        data=(FIXTURES / "dresden_events.ics").read_bytes(),
        now=local(2026, 11, 27, 15),
    )


def test_every_public_geojson_output_follows_rfc_7946(ticket, events):
    client = APIClient(headers={"Accept-Language": "en"})
    for url, params in PUBLIC:
        document = _body(client.get(url, params))
        assert document["type"] == "FeatureCollection", url
        assert document["features"], f"{url} gave no features to check"
        assert rfc7946_problems(document) == [], url


def test_the_dispatchers_geojson_export_follows_rfc_7946(dispatcher, ticket):
    client = APIClient(headers={"Accept-Language": "en"})
    client.force_authenticate(dispatcher)
    document = _body(client.get("/api/v1/dispatch/export.geojson"))
    assert [f["id"] for f in document["features"]] == [ticket.pk]
    assert rfc7946_problems(document) == []


def test_the_checks_catch_what_they_claim_to():
    """The extra rules are not vacuous: each fails on a document that breaks it."""
    square = [[13.7, 51.0], [13.8, 51.0], [13.8, 51.1], [13.7, 51.1], [13.7, 51.0]]

    def collection(coordinates, kind="Polygon", **extra):
        feature = {"type": "Feature", "properties": {}}
        feature["geometry"] = {"type": kind, "coordinates": coordinates}
        return {"type": "FeatureCollection", "features": [feature], **extra}

    assert rfc7946_problems(collection([square])) == []
    assert "not counter-clockwise" in rfc7946_problems(collection([square[::-1]]))[0]
    assert "crs member" in rfc7946_problems(collection([square], crs={"type": "name"}))[0]
    assert "not lon, lat" in rfc7946_problems(collection([51.05, 13.75], "Point"))[0]
    assert "geojson validator" in rfc7946_problems(collection([square[:3]]))[0]
