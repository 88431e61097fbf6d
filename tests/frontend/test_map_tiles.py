"""The public map page stays small (district boundaries come from the API, reports from the
GeoJSON endpoint or from vector tiles) and switches to vector tiles above
MAP_VECTOR_TILES_ABOVE points; the districts GeoJSON endpoint and the public map's tile layer."""

import json
import re
from datetime import timedelta

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from api.tiles import tile_for_point
from districts.models import District
from reports.models import Category, Report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_tiles_cache")]

NEUSTADT = (13.7535, 51.0655)
PAGE_LIMIT = 50 * 1024


def _report(lon=NEUSTADT[0], lat=NEUSTADT[1], status=Report.Status.NEW, closed_days_ago=None):
    report = Report.objects.create(
        location=Point(lon, lat, srid=4326),
        category=Category.objects.get(code="bulky_waste"),
        status=status,
        reporter_email="anwohner@example.org",
    )
    if closed_days_ago is not None:
        Report.objects.filter(pk=report.pk).update(
            closed_at=timezone.now() - timedelta(days=closed_days_ago)
        )
    return report


def _config(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="public-map-config" [^>]*>(.*?)</script>', html)
    assert match, "the page has no map configuration"
    return json.loads(match.group(1))


def _reports(count: int) -> None:
    for n in range(count):
        _report(lon=13.70 + (n % 50) * 0.002, lat=51.03 + (n // 50) * 0.002)


# --- the page ------------------------------------------------------------------------------------


def test_home_page_carries_no_district_boundaries_and_loads_them_from_the_api(client):
    _reports(3)
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "MultiPolygon" not in html and '"Polygon"' not in html
    # A boundary vertex of a district (6 decimals) is nowhere in the page.
    ring = District.objects.get(code="neustadt").boundary[0][0]
    assert f"{ring[3][0]:.4f}" not in html
    config = _config(response)
    assert config["districtsUrl"] == "/api/v1/map/districts.geojson"
    assert config["districts"] and f"var {config['districts']} = L.featureGroup" in html


def test_home_page_stays_under_50_kb_however_many_reports(client, settings):
    settings.MAP_VECTOR_TILES_ABOVE = 100
    _reports(60)  # more than a page of the list (50 rows) below the map
    small = client.get("/")
    _reports(110)
    big = client.get("/")
    assert _config(small)["reportsMode"] == "geojson" and _config(big)["reportsMode"] == "tiles"
    assert big.context["page"].paginator.count == 170
    for response in (small, big):
        assert len(response.content) <= PAGE_LIMIT, len(response.content)
    # No point is in the page: its size does not depend on the number of reports.
    assert abs(len(big.content) - len(small.content)) < 2 * 1024


def test_below_the_threshold_the_map_draws_geojson_markers(client, settings):
    settings.MAP_VECTOR_TILES_ABOVE = 3
    _reports(3)
    response = client.get("/")
    html = response.content.decode()
    config = _config(response)
    assert config["reportsMode"] == "geojson"
    assert config["dataUrl"] == "/map/reports.geojson" and config["cluster"]
    assert config["tiles"] is None
    assert "leaflet.markercluster.js" in html
    assert "vectorGrid" not in html and "VectorGrid" not in html


def test_above_the_threshold_the_map_draws_vector_tiles_from_our_host(client, settings):
    settings.MAP_VECTOR_TILES_ABOVE = 3
    _reports(4)
    response = client.get("/")
    html = response.content.decode()
    config = _config(response)
    assert config["reportsMode"] == "tiles" and config["cluster"] is None
    assert f"var {config['tiles']} = L.vectorGrid.protobuf(" in html
    assert "'/api/v1/tiles/reports/{z}/{x}/{y}.pbf?map=public'" in html
    assert "frontend/vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js" in html
    assert "leaflet.markercluster.js" not in html
    assert "unpkg" not in html and "@latest" not in html
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    # What a tile point's popup needs (the tile has only id, category code and status).
    assert config["reportPage"] == "/reports/0/"
    assert config["categories"]["bulky_waste"] and config["statusLabels"]["new"]


def test_the_threshold_counts_what_the_map_shows(client, settings):
    settings.MAP_VECTOR_TILES_ABOVE = 3
    _reports(3)
    _report(status=Report.Status.REJECTED)
    _report(status=Report.Status.CLEARED, closed_days_ago=40)
    assert _config(client.get("/"))["reportsMode"] == "geojson"
    _report(status=Report.Status.CLEARED, closed_days_ago=2)
    assert _config(client.get("/"))["reportsMode"] == "tiles"


def test_the_folium_part_is_built_once_per_language_and_kind(client, settings):
    _reports(2)
    first, second = _config(client.get("/")), _config(client.get("/"))
    assert first["map"] == second["map"]
    settings.MAP_VECTOR_TILES_ABOVE = 1
    tiles = _config(client.get("/"))
    assert tiles["map"] != first["map"]
    german = client.get("/", headers={"Accept-Language": "de"})
    assert _config(german)["map"] not in (first["map"], tiles["map"])
    assert "Stadtbezirke" in german.content.decode()


# --- the districts layer -------------------------------------------------------------------------


def test_districts_geojson_is_every_district_simplified_with_caching_headers(client):
    response = client.get("/api/v1/map/districts.geojson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert "max-age=3600" in response["Cache-Control"] and "public" in response["Cache-Control"]
    assert response["ETag"] and response["Last-Modified"]
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == District.objects.count() > 0
    names = {f["properties"]["name"] for f in body["features"]}
    assert "Neustadt" in names
    feature = next(f for f in body["features"] if f["properties"]["code"] == "neustadt")
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Simplified: fewer vertices than the stored boundary.
    stored = District.objects.get(code="neustadt").boundary.num_coords
    coords = json.dumps(feature["geometry"]["coordinates"]).count("[") - 3
    assert coords < stored


def test_districts_geojson_revalidates_with_304_until_a_district_changes(client):
    first = client.get("/api/v1/map/districts.geojson")
    etag = first["ETag"]
    again = client.get("/api/v1/map/districts.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag
    district = District.objects.get(code="neustadt")
    district.name = "Neustadt (neu)"
    district.save()
    changed = client.get("/api/v1/map/districts.geojson", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "Neustadt (neu)" in changed.content.decode()


# --- the public map's tile layer -----------------------------------------------------------------


def _tile_ids(client, query="map=public", z=16):
    _, x, y = tile_for_point(*NEUSTADT, z)
    response = client.get(f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf?{query}")
    if response.status_code == 204:
        return set()
    assert response.status_code == 200, response.content
    return {f["id"] for f in mapbox_vector_tile.decode(response.content)["reports"]["features"]}


def test_public_map_tiles_show_what_the_public_map_shows(client):
    open_report = _report()
    recent = _report(status=Report.Status.CLEARED, closed_days_ago=29)
    old = _report(status=Report.Status.CLEARED, closed_days_ago=31)
    rejected = _report(status=Report.Status.REJECTED)
    assert _tile_ids(client) == {open_report.pk, recent.pk}
    everything = _tile_ids(client, query="")
    assert {old.pk, rejected.pk} <= everything


def test_public_map_tiles_are_cached_and_dropped_when_a_report_in_them_changes(
    client, django_capture_on_commit_callbacks
):
    from reports.services import report_create

    first = _report()
    assert _tile_ids(client) == {first.pk}
    Report.objects.filter(pk=first.pk).update(status=Report.Status.REJECTED)  # no service
    assert _tile_ids(client) == {first.pk}  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        # a new report drops the cached tiles that contain it, after its commit
        second, _ = report_create(category="litter", location=Point(*NEUSTADT, srid=4326))
    assert _tile_ids(client) == {second.pk}


def test_public_map_tile_parameter_is_checked(client):
    _, x, y = tile_for_point(*NEUSTADT, 16)
    bad = client.get(f"/api/v1/tiles/reports/16/{x}/{y}.pbf?map=internal")
    assert bad.status_code == 400 and "map" in bad.json()["detail"]
    mixed = client.get(f"/api/v1/tiles/reports/16/{x}/{y}.pbf?map=public&status=new")
    assert mixed.status_code == 400


# --- the dispatcher's live map -------------------------------------------------------------------


def _live_config(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="dispatch-config" [^>]*>(.*?)</script>', html)
    assert match, "the live page has no configuration"
    return json.loads(match.group(1))


def test_dispatcher_map_switches_to_staff_tiles_above_the_threshold(client, settings, dispatcher):
    client.force_login(dispatcher)
    settings.MAP_VECTOR_TILES_ABOVE = 2
    _reports(2)
    markers = client.get("/dispatch/")
    assert _live_config(markers)["tiles"] is None
    assert "vectorGrid" not in markers.content.decode()
    _reports(1)
    tiles = client.get("/dispatch/")
    html = tiles.content.decode()
    config = _live_config(tiles)
    assert config["tiles"] and f"var {config['tiles']} = L.vectorGrid.protobuf(" in html
    assert "'/api/v1/dispatch/tiles/tickets/{z}/{x}/{y}.pbf'" in html
    assert "leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js" in html
    assert "unpkg" not in html


def test_ticket_tiles_are_for_dispatchers_only_with_state_and_no_shared_caching(client, dispatcher):
    ticket = _report()
    _report(status=Report.Status.CLEARED, closed_days_ago=1)
    _, x, y = tile_for_point(*NEUSTADT, 16)
    url = f"/api/v1/dispatch/tiles/tickets/16/{x}/{y}.pbf"
    assert client.get(url).status_code in (401, 403)
    client.force_login(dispatcher)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    features = mapbox_vector_tile.decode(response.content)["tickets"]["features"]
    assert {f["id"] for f in features} == {ticket.pk}  # open tickets only
    assert features[0]["properties"]["state"] == "unassigned"
    assert set(features[0]["properties"]) == {"priority", "state"}  # no contact data
    again = client.get(url, headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/v1/dispatch/tiles/tickets/3/8/0.pbf").status_code == 400
