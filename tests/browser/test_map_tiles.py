"""The public map above MAP_VECTOR_TILES_ABOVE reports: Chromium loads the reports as vector
tiles (.pbf) from our own host and draws them, the district outlines come from the districts
API, a tap on a point leads to the report, and the page asks no other host for anything."""

import re
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.test import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from crews.models import DISPATCHER_GROUP
from reports.models import Category, Report
from tests.browser.test_csp import LISTEN
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

# About 1 km apart: separate points even in the merged tiles of the city-wide zoom.
PLACES = [(13.7535, 51.0655), (13.7400, 51.0500), (13.7700, 51.0400)]
TILE_URL = re.compile(r"/api/v1/tiles/reports/\d+/\d+/\d+\.pbf\?map=public$")


def _reports() -> list[Report]:
    category = Category.objects.get(code="bulky_waste")
    return [
        Report.objects.create(
            location=Point(lon, lat, srid=4326),
            category=category,
            status=Report.Status.NEW,
            reporter_email="anwohner@example.org",
        )
        for lon, lat in PLACES
    ]


def _only_our_host_and_the_base_map(page, live_server) -> None:
    own = urlparse(live_server.url).netloc
    for url in page.request_log.urls:
        parts = urlparse(url)
        if parts.scheme not in ("http", "https"):
            continue
        assert parts.netloc == own or (
            parts.netloc == page.request_log.tile_host and parts.path.endswith(".png")
        ), url


def test_public_map_above_the_threshold_draws_vector_tiles_and_districts_from_the_api(
    dresden_committed, live_server, page_factory, settings
):
    settings.MAP_VECTOR_TILES_ABOVE = 2
    reports = _reports()
    page = page_factory(viewport={"width": 1024, "height": 800})
    page.goto(live_server.url + "/")
    page.wait_for_selector(".leaflet-container")
    # The reports layer is vector tiles from our host, drawn as one circle per report.
    page.wait_for_function("document.documentElement.getAttribute('data-map-reports') === 'tiles'")
    page.wait_for_function("Number(document.documentElement.getAttribute('data-map-tiles')) > 0")
    page.wait_for_function(
        "document.querySelectorAll('.leaflet-tile-container path.report-tile-point').length >= 3"
    )
    tile_requests = [url for url in page.request_log.urls if TILE_URL.search(url)]
    assert tile_requests
    assert all(url.startswith(live_server.url + "/") for url in tile_requests)
    # No report is drawn as a GeoJSON marker: the points come only from the tiles.
    assert not any("/map/reports.geojson" in url for url in page.request_log.urls)
    assert page.locator(".leaflet-marker-icon.marker-cluster").count() == 0

    # The district outlines come from the API, not from the page's HTML.
    assert live_server.url + "/api/v1/map/districts.geojson" in page.request_log.urls
    page.wait_for_function(
        "Number(document.documentElement.getAttribute('data-map-districts')) >= 19"
    )
    assert page.locator("path.district-outline").count() >= 19
    # Both layers are in the layer box, which is folded and opens when a keyboard reaches it.
    control = page.locator(".leaflet-control-layers")
    toggle = page.locator(".leaflet-control-layers-toggle")
    toggle.focus()
    toggle.press("Enter")
    expect(control.locator(".leaflet-control-layers-list")).to_be_visible()
    assert "Meldungen" in control.inner_text() and "Stadtbezirke" in control.inner_text()

    # A tap on a point opens a popup that links to the report's page.
    page.locator("path.report-tile-point").first.click(force=True)
    link = page.locator(".leaflet-popup-content a")
    link.wait_for()
    href = link.get_attribute("href")
    assert href in {f"/reports/{report.pk}/" for report in reports}
    assert "Details" in link.inner_text()

    _only_our_host_and_the_base_map(page, live_server)
    assert page.request_log.third_party() == []


def test_public_map_below_the_threshold_still_draws_markers(
    dresden_committed, live_server, page_factory, settings
):
    settings.MAP_VECTOR_TILES_ABOVE = 5000
    _reports()
    page = page_factory(viewport={"width": 1024, "height": 800})
    page.goto(live_server.url + "/")
    page.wait_for_function("document.documentElement.getAttribute('data-map-reports') === '3'")
    page.wait_for_function(
        "Number(document.documentElement.getAttribute('data-map-districts')) >= 19"
    )
    assert not any(TILE_URL.search(url) for url in page.request_log.urls)
    _only_our_host_and_the_base_map(page, live_server)


def test_tiles_map_runs_under_the_content_security_policy(
    dresden_committed, live_server, page_factory, settings
):
    settings.MAP_VECTOR_TILES_ABOVE = 2
    _reports()
    page = page_factory(bypass_csp=False, viewport={"width": 1024, "height": 800})
    problems: list[str] = []
    page.add_init_script(LISTEN)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and ("Content Security Policy" in m.text or "Refused" in m.text)
            else None
        ),
    )
    page.goto(live_server.url + "/")
    # Selectors, not script predicates: the policy forbids Playwright's eval.
    page.wait_for_selector("path.report-tile-point", state="attached")
    page.wait_for_selector("path.district-outline", state="attached")
    problems += page.evaluate("window.__cspViolations || []")
    assert problems == []


def test_dispatcher_map_above_the_threshold_draws_staff_tiles_that_lead_to_the_ticket(
    dresden_committed, live_server, page_factory, settings
):
    settings.MAP_VECTOR_TILES_ABOVE = 2
    reports = _reports()
    dispatcher = UserFactory(username="tiles-dispatcher")
    dispatcher.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
    client = Client()
    client.force_login(dispatcher)
    page = page_factory(viewport={"width": 1280, "height": 900})
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    # The live channel (server-sent events) needs ASGI; under this WSGI test server the map
    # falls back to polling, which is what this test needs.
    page.context.route("**/dispatch/live/", lambda route: route.abort())
    page.goto(live_server.url + "/dispatch/")
    page.wait_for_function("document.querySelectorAll('path.ticket-tile-point').length >= 3")
    tiles = [u for u in page.request_log.urls if "/api/v1/dispatch/tiles/tickets/" in u]
    assert tiles and all(u.startswith(live_server.url + "/") for u in tiles)
    assert page.locator("path.ticket").count() == 0  # no GeoJSON markers
    link = page.locator(".leaflet-popup-content a")
    # The tiles are redrawn whenever a ticket's deadline state may change; a click that lands
    # while its point is being replaced is lost (as it would be for a person: they click again).
    for _ in range(5):
        page.locator("path.ticket-tile-point").first.click(force=True)
        try:
            link.wait_for(timeout=5000)
            break
        except PlaywrightTimeoutError:
            continue
    assert link.get_attribute("href") in {f"/dispatch/reports/{r.pk}/" for r in reports}
    _only_our_host_and_the_base_map(page, live_server)
