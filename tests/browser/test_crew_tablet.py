"""A crew member on a tablet: log in, start, close with a photo — online and offline."""

import pytest
from django.contrib.gis.geos import Point

from crews.services import report_dispatch
from reports.models import Report
from reports.services import report_create
from tests.browser.test_resident_pages import axe_serious
from tests.conftest import NEUSTADT_POINT, gps_exif, jpeg_bytes

pytestmark = pytest.mark.browser

TABLET = {
    "viewport": {"width": 1024, "height": 768},
    "has_touch": True,
    "is_mobile": False,
    "geolocation": {"latitude": NEUSTADT_POINT.y + 0.002, "longitude": NEUSTADT_POINT.x},
    "permissions": ["geolocation"],
}


def _ticket(dx: float = 0.0) -> Report:
    report, _ = report_create(
        category="litter",
        location=Point(NEUSTADT_POINT.x + dx, NEUSTADT_POINT.y, srid=4326),
        description="Müll am Eingang",
    )
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _after_photo() -> dict:
    exif = gps_exif(NEUSTADT_POINT.y, NEUSTADT_POINT.x)
    del exif.get_ifd(0x8769)[0x9003]  # no capture time: nothing to flag
    return {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(exif=exif)}


def _log_in(page, base: str) -> None:
    page.goto(base + "/crew/")
    page.fill("#id_username", "crew-nord")
    page.fill("#id_password", "civicmap-demo")
    page.click(".login button[type=submit]")
    page.wait_for_url(base + "/crew/")


def _public_status(page, base: str, report: Report) -> str:
    answer = page.request.get(f"{base}/api/v1/reports/{report.pk}/")
    assert answer.ok
    return answer.json()["properties"]["status"]


def test_log_in_start_and_close_with_a_photo(dresden_committed, live_server, page_factory):
    report = _ticket()
    other = _ticket(dx=0.004)
    base = live_server.url
    page = page_factory(**TABLET)
    _log_in(page, base)
    row = page.locator(f'.ticket-row[data-ticket="{report.pk}"]')
    assert "Müll" not in row.inner_text()  # the row is short: category, place, deadline
    # Distance from the tablet's position (about 220 m north), measured by PostGIS.
    page.wait_for_function(
        f"""document.querySelector('[data-distance-for="{report.pk}"]').textContent
            .match(/^2[0-9][0-9] m$/)"""
    )
    box = row.locator("a").bounding_box()
    assert box["height"] >= 44
    # The same queue on a map, with the depot and the tablet's position.
    assert axe_serious(page) == []
    page.locator("[data-show=map]").tap()
    page.wait_for_selector("#queue-map path.ticket-marker")
    # The switch switches: the list goes away and the map is on the screen, not far below.
    assert page.locator("#queue-list").is_hidden()
    map_box = page.locator("#queue-map").bounding_box()
    assert map_box["y"] < TABLET["viewport"]["height"] and map_box["height"] >= 300
    assert page.locator("#queue-map path.depot-marker").count() == 1
    assert page.get_attribute("#queue-map .leaflet-control-zoom-out", "title") == "Verkleinern"
    page.wait_for_selector("#queue-map path.here-marker")
    page.locator("[data-show=list]").tap()
    assert page.locator("#queue-map").is_hidden() and page.locator("#queue-list").is_visible()
    row.locator("a").tap()
    page.wait_for_url(f"{base}/crew/tickets/{report.pk}/")
    assert page.get_attribute("a[href^='geo:']", "href").startswith("geo:51.06")
    # The ticket's own map: the ticket, the depot and the tablet (about 220 m away).
    page.wait_for_selector("#ticket-map path.this-ticket")
    assert page.locator("#ticket-map path.depot-marker").count() == 1
    page.wait_for_selector("#ticket-map path.here-marker")
    assert "22" in page.inner_text("#position-status")
    assert axe_serious(page) == []

    start = page.locator("form[data-crew-action=start] button")
    assert start.bounding_box()["height"] >= 44
    start.tap()
    page.wait_for_selector("#ticket-status.status-in_progress")

    page.set_input_files("form[data-crew-action=close] input[name=photo]", _after_photo())
    page.fill("form[data-crew-action=close] textarea[name=note]", "Alles weg")
    page.locator("form[data-crew-action=close] button").tap()
    page.wait_for_selector("#ticket-status.status-cleared")
    assert page.locator("#outbox").is_hidden()
    assert "Alles weg" in page.inner_text(".history")

    assert _public_status(page, base, report) == "cleared"
    report.refresh_from_db()
    cleared = report.events.get(to_status="cleared")
    assert cleared.actor.username == "crew-nord" and cleared.photo is not None
    # The day plan now holds the other ticket only: depot → it → depot.
    page.goto(f"{base}/crew/plan/")
    assert page.locator("#plan-list .ticket-row").count() == 1
    assert page.get_attribute("#plan-list .ticket-row", "data-ticket") == str(other.pk)
    page.wait_for_selector("#plan-map path.route-line")
    assert page.request_log.third_party() == []


def test_close_taken_offline_is_sent_once_when_back_online(
    dresden_committed, live_server, page_factory
):
    report = _ticket()
    base = live_server.url
    page = page_factory(**TABLET)
    context = page.context
    _log_in(page, base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.goto(f"{base}/crew/tickets/{report.pk}/")
    # A reload under the worker's control stores the ticket page for offline use.
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()

    context.set_offline(True)
    # A ticket loaded before still shows where it is, where the tablet is and the depot.
    page.reload()
    page.wait_for_selector("#ticket-map path.this-ticket")
    assert page.locator("#ticket-map path.depot-marker").count() == 1
    page.wait_for_selector("#ticket-map path.here-marker")
    page.locator("form[data-crew-action=start] button").tap()
    page.wait_for_selector("#outbox:not([hidden]) .outbox-item.waiting")
    # The close follows the start that is still waiting (it is sent with the start's version).
    page.set_input_files("form[data-crew-action=close] input[name=photo]", _after_photo())
    page.locator("form[data-crew-action=close] button").tap()
    page.wait_for_function("document.getElementById('outbox-count').textContent === '2'")
    assert page.is_visible("#net-status")
    assert page.is_visible("#ticket-pending")

    # The tablet reloads while still offline: the page comes from the service worker and the
    # action is still waiting.
    page.reload()
    page.wait_for_selector(f'#outbox .outbox-item.waiting[data-ticket="{report.pk}"]')
    assert page.locator("#outbox .outbox-item.waiting").count() == 2
    report.refresh_from_db()
    assert report.status == Report.Status.ASSIGNED

    context.set_offline(False)
    page.wait_for_selector("#ticket-status.status-cleared", timeout=20000)
    page.wait_for_function("document.getElementById('outbox').hidden")
    report.refresh_from_db()
    assert report.status == Report.Status.CLEARED
    assert list(report.events.filter(kind="status").values_list("to_status", flat=True)) == [
        "in_progress",
        "cleared",
    ]
    assert report.photos.filter(kind="after").count() == 1
    assert _public_status(page, base, report) == "cleared"
