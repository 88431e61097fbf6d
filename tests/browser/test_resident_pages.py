"""A resident on a phone: report with a photo, follow it, find duplicates, read errors; every
page passes axe-core (no serious or critical findings) and talks to no third party."""

import gzip
import math
import re
import struct
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core import mail
from django.core.cache import cache
from django.utils import translation

from crews.services import report_dispatch
from districts.models import Address, District
from reports.models import Report
from reports.photos import PHOTO_NOT_AN_IMAGE
from reports.services import report_create, report_transition
from tests.conftest import gps_exif, jpeg_bytes

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.11.0" / "axe.min.js"
NEUSTADT = (51.0655, 13.7535)  # Alaunpark edge, Äußere Neustadt
ALTSTADT = (51.0519, 13.7416)  # near the Altmarkt
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "permissions": ["geolocation"],
}
TEXT_TYPES = ("text/", "javascript", "json", "svg")


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Submissions are rate-limited per address; earlier tests must not use up the allowance.
    cache.clear()


def phone(page_factory, at=NEUSTADT, **extra):
    return page_factory(**PHONE, geolocation={"latitude": at[0], "longitude": at[1]}, **extra)


def axe_serious(page) -> list[str]:
    """Serious and critical axe-core findings on the current page (empty when accessible)."""
    # Checked as a person sees the page at rest: a popup still fading in (Leaflet's opacity
    # transition) would be measured at half its contrast.
    page.wait_for_function(
        """() => document.getAnimations().every(a => a.playState !== 'running'
            || a.effect.getComputedTiming().endTime === Infinity)"""
    )
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"""
    )
    return violations


def offset_north(point: tuple[float, float], meters: float) -> tuple[float, float]:
    return (point[0] + meters / 111_195, point[1])


def _make_report(category: str, at: tuple[float, float], **fields) -> Report:
    report, _ = report_create(category=category, location=Point(at[1], at[0], srid=4326), **fields)
    report_dispatch(report=report)
    return report


def _choose_category(page, code: str) -> None:
    page.click(f"label[for=cat-{code}]")


def test_report_with_gps_photo_lands_on_map_and_tracking_page(
    dresden_committed, live_server, page_factory
):
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "de"
    assert axe_serious(page) == []
    # No layout jump while the map and the scripts load.
    shift = page.evaluate(
        """() => new Promise(done => {
            let total = 0;
            new PerformanceObserver(list => list.getEntries()
                .forEach(e => { if (!e.hadRecentInput) total += e.value; }))
                .observe({type: 'layout-shift', buffered: true});
            setTimeout(() => done(total), 300);
        })"""
    )
    assert shift < 0.05

    # The photo carries the Altstadt position; it moves the pin away from the device position.
    photo = jpeg_bytes(exif=gps_exif(*ALTSTADT))
    page.set_input_files(
        "#photo-file", files=[{"name": "ecke.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    _choose_category(page, "litter")
    page.wait_for_function("document.getElementById('route').textContent.includes('Altstadt')")
    page.fill("#description", "Müll neben der Bank")
    page.fill("#email", "anwohnerin@example.org")
    page.click("#submit")
    page.wait_for_url("**/r/**?new=1")

    report = Report.objects.get()
    assert report.location.y == pytest.approx(ALTSTADT[0], abs=1e-5)
    assert report.location.x == pytest.approx(ALTSTADT[1], abs=1e-5)
    assert report.district.name == "Altstadt"
    assert report.reporter_email == "anwohnerin@example.org"
    assert report.description == "Müll neben der Bank"
    assert f"/r/{report.tracking_token}/" in page.url
    main = page.inner_text("main")
    assert f"#{report.pk}" in main and "Altstadt" in main and report.tracking_token in main
    assert axe_serious(page) == []
    # The tracking link went to the address given, in the page's language.
    assert len(mail.outbox) == 1 and report.tracking_token in mail.outbox[0].body
    assert mail.outbox[0].to == ["anwohnerin@example.org"]

    page.goto(live_server.url + "/")
    page.wait_for_function("document.documentElement.dataset.mapReports === '1'")
    page.locator(".report-marker").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    # Leaflet fades the popup in; check it as the resident sees it once shown.
    page.wait_for_function(
        "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    assert f"#{report.pk}" in popup.inner_text() and "Altstadt" in popup.inner_text()
    assert f"#{report.pk}" in page.inner_text(".report-list")
    assert axe_serious(page) == []

    page.goto(live_server.url + f"/reports/{report.pk}/")
    assert "anwohnerin@example.org" not in page.content()
    assert report.tracking_token not in page.content()
    assert axe_serious(page) == []
    assert page.request_log.third_party() == []


def test_report_form_first_view_is_small(dresden_committed, live_server, page_factory):
    """Under 200 KB transferred (tiles excluded) as served in production, where WhiteNoise
    sends the static files compressed: text is counted gzip-compressed."""
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    page.wait_for_load_state("networkidle")
    urls = [live_server.url + "/report/new/"] + page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
    )
    total = 0
    for url in urls:
        if not url.startswith(live_server.url):
            continue  # tiles (aborted in tests)
        response = page.request.get(url)
        body = response.body()
        kind = response.headers.get("content-type", "")
        total += len(gzip.compress(body)) if any(t in kind for t in TEXT_TYPES) else len(body)
    assert total < 200_000, total
    assert page.request_log.third_party() == []


def test_second_report_ten_metres_away_is_offered_as_duplicate(
    dresden_committed, live_server, page_factory
):
    first = _make_report("litter", NEUSTADT, description="Müllberg")
    page = phone(page_factory, at=offset_north(NEUSTADT, 10))
    page.goto(live_server.url + "/report/new/")
    _choose_category(page, "litter")
    nearby = page.locator("#nearby")
    nearby.wait_for(state="visible")
    assert f"#{first.pk}" in nearby.inner_text()
    # While placing the pin the open reports around it are pins too, and the offer is where
    # the resident looks: at the pin and next to the Send button.
    page.wait_for_selector(f"#pick-map path.open-report-{first.pk}")
    at_pin = page.locator(".leaflet-popup .pin-offer")
    at_pin.wait_for()
    assert f"#{first.pk}" in at_pin.inner_text() and "10 m" in at_pin.inner_text()
    offer = page.locator("#offer-send")
    assert offer.is_visible() and f"#{first.pk}" in offer.inner_text()
    send = page.locator("#submit").bounding_box()
    assert 0 < send["y"] - offer.bounding_box()["y"] < 150  # right above the button
    # The popup is not covered by the map's controls.
    popup = page.locator(".leaflet-popup-content-wrapper").bounding_box()
    zoom = page.locator(".leaflet-control-zoom").bounding_box()
    assert popup["x"] >= zoom["x"] + zoom["width"] or popup["y"] >= zoom["y"] + zoom["height"]
    assert axe_serious(page) == []
    nearby.get_by_role("button").first.click()
    page.locator("#nearby .notice-success").wait_for()
    first.refresh_from_db()
    assert first.confirmations_count == 1
    assert Report.objects.count() == 1
    # Another category at the same place is not a duplicate.
    page.goto(live_server.url + "/report/new/")
    _choose_category(page, "graffiti")
    page.wait_for_function("document.getElementById('route').textContent.length > 0")
    assert page.locator("#nearby").is_hidden()
    assert page.locator("#offer-send").is_hidden()
    assert page.request_log.third_party() == []


def test_lost_answer_is_retried_with_the_same_key_and_makes_one_report(
    dresden_committed, live_server, page_factory
):
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    sent = []

    def lose_the_first_answer(route):
        sent.append(route.request.headers)
        if len(sent) == 1:
            route.fetch()  # the server stores the report ...
            route.abort()  # ... but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/reports/", lose_the_first_answer)
    _choose_category(page, "overflowing_bin")
    page.wait_for_function("document.getElementById('route').textContent.length > 0")
    page.click("#submit")
    retry = page.locator("#retry")
    retry.wait_for(state="visible")
    assert "Erneut versuchen" in page.inner_text("#submit-status")
    assert Report.objects.count() == 1
    retry.click()
    page.wait_for_url("**/r/**?new=1")
    assert Report.objects.count() == 1
    assert len(sent) == 2 and sent[0]["idempotency-key"] == sent[1]["idempotency-key"]
    assert sent[0]["accept-language"] == "de"


def test_refused_upload_shows_readable_message_and_keeps_input(
    dresden_committed, live_server, page_factory
):
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    _choose_category(page, "litter")
    page.wait_for_function("document.getElementById('route').textContent.length > 0")
    page.set_input_files(
        "#photo-file",
        files=[{"name": "notiz.txt", "mimeType": "text/plain", "buffer": b"kein Foto"}],
    )
    page.fill("#description", "Scherben am Spielplatz")
    page.fill("#email", "a@example.org")
    page.click("#submit")
    error = page.locator("#error-photo")
    error.wait_for(state="visible")
    with translation.override("de"):
        assert error.inner_text() == str(PHOTO_NOT_AN_IMAGE)
    assert page.input_value("#description") == "Scherben am Spielplatz"
    assert page.input_value("#email") == "a@example.org"
    assert page.locator("#cat-litter").is_checked()
    assert not Report.objects.exists()
    assert axe_serious(page) == []
    assert page.request_log.third_party() == []


def test_pages_switch_to_english_and_back(dresden_committed, live_server, page_factory):
    # A cleared report: its tracking page also shows the "not fixed" form.
    report = report_transition(
        report=_make_report("glass", ALTSTADT), to=Report.Status.CLEARED, note="Beseitigt."
    )
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    assert page.inner_text("h1") == "Problem melden"
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("h1") == "Report a problem"
    assert "Broken glass" in page.inner_text(".categories")
    # The server's messages come back in the page's language too.
    _choose_category(page, "litter")
    page.set_input_files(
        "#photo-file", files=[{"name": "x.txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    page.click("#submit")
    page.locator("#error-photo").wait_for(state="visible")
    with translation.override("en"):
        assert page.inner_text("#error-photo") == str(PHOTO_NOT_AN_IMAGE)
    page.goto(live_server.url + f"/r/{report.tracking_token}/")
    assert "Your report" in page.inner_text("h1")
    assert page.get_by_label("What is still wrong?").is_visible()
    assert axe_serious(page) == []
    page.click("button[name=language][value=de]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "de"
    assert "Ihre Meldung" in page.inner_text("h1")
    assert axe_serious(page) == []
    assert page.request_log.third_party() == []


def test_without_the_map_by_address_search_or_part_of_town(
    dresden_committed, live_server, page_factory
):
    Address.objects.create(
        street="Alaunstraße",
        house_number="1",
        postcode="01099",
        location=Point(13.7530, 51.0652, srid=4326),
        district=District.objects.get(code="neustadt"),
    )
    # No location permission: the resident uses the address search.
    page = page_factory(**{**PHONE, "permissions": []})
    page.goto(live_server.url + "/report/new/")
    _choose_category(page, "graffiti")
    page.click("#no-map summary")
    page.fill("#address-q", "Alaunstr 1")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Alaunstraße 1, 01099 (Neustadt)").click()
    page.wait_for_function("document.getElementById('route').textContent.includes('Neustadt')")
    assert axe_serious(page) == []
    page.click("#submit")
    page.wait_for_url("**/r/**?new=1")
    report = Report.objects.get()
    assert report.location.x == pytest.approx(13.7530) and report.district.code == "neustadt"
    assert report.description == "Ort: Alaunstraße 1, 01099"
    # The part of town plus a description of the place also works.
    page.goto(live_server.url + "/report/new/")
    _choose_category(page, "litter")
    page.click("#no-map summary")
    page.select_option("#district", "pieschen")
    page.fill("#place", "Elbradweg unter der Brücke")
    page.wait_for_function("document.getElementById('route').textContent.includes('Pieschen')")
    page.click("#submit")
    page.wait_for_url("**/r/**?new=1")
    second = Report.objects.latest("id")
    assert second.district.code == "pieschen"
    assert second.description == "Ort: Elbradweg unter der Brücke"
    assert page.request_log.third_party() == []


def _big_endian_exif_jpeg(lat: float, lon: float) -> bytes:
    """A minimal JPEG whose EXIF is big-endian ("MM", as iPhones write it), GPS only."""

    def rationals(value: float) -> bytes:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round(((value - degrees) * 60 - minutes) * 60 * 1000)
        return struct.pack(">6I", degrees, 1, minutes, 1, seconds, 1000)

    gps_ifd = 26  # TIFF header (8) + IFD0 with one entry (2 + 12 + 4)
    data_at = gps_ifd + 2 + 4 * 12 + 4
    tiff = b"MM" + struct.pack(">HI", 42, 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x8825, 4, 1, gps_ifd) + b"\0" * 4
    tiff += struct.pack(">H", 4)
    tiff += struct.pack(">HHI", 1, 2, 2) + b"N\0\0\0"
    tiff += struct.pack(">HHII", 2, 5, 3, data_at)
    tiff += struct.pack(">HHI", 3, 2, 2) + b"E\0\0\0"
    tiff += struct.pack(">HHII", 4, 5, 3, data_at + 24) + b"\0" * 4
    tiff += rationals(lat) + rationals(lon)
    app1 = b"Exif\0\0" + tiff
    return b"\xff\xd8\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b"\xff\xd9"


def test_browser_reads_big_endian_exif_gps(dresden_committed, live_server, page_factory):
    page = phone(page_factory)
    page.goto(live_server.url + "/report/new/")
    found = page.evaluate(
        """async bytes => readExifGps(new File([new Uint8Array(bytes)], 'iphone.jpg'))""",
        list(_big_endian_exif_jpeg(*ALTSTADT)),
    )
    assert found["lat"] == pytest.approx(ALTSTADT[0], abs=1e-6)
    assert found["lon"] == pytest.approx(ALTSTADT[1], abs=1e-6)
    none = page.evaluate(
        """async () => readExifGps(new File([new Uint8Array([1, 2, 3])], 'x.txt'))"""
    )
    assert none is None


def test_distance_helper_is_ten_metres():
    # Guards the duplicate test's geometry: the offset point really is about 10 m away.
    lat, lon = offset_north(NEUSTADT, 10)
    metres = math.radians(lat - NEUSTADT[0]) * 6_371_000
    assert metres == pytest.approx(10, abs=0.2)


def test_without_javascript_no_dead_controls_and_the_part_of_town_is_open(
    dresden_committed, live_server, page_factory
):
    page = page_factory(**{**PHONE, "permissions": []}, java_script_enabled=False)
    page.goto(live_server.url + "/report/new/")
    # No map and no location button that could not work; the noscript hint says what to do.
    assert page.locator("#locate").is_hidden() and page.locator("#pick-map").is_hidden()
    assert page.locator("#address-q").is_hidden()  # the address search needs the script too
    assert page.get_attribute("#no-map", "open") is not None
    assert page.locator("#district").is_visible() and page.locator("#place").is_visible()
    assert axe_serious_without_script(page) == []
    page.click("label[for=cat-litter]")
    page.select_option("#district", "pieschen")
    page.fill("#place", "Elbradweg unter der Brücke")
    page.click("#submit")
    page.wait_for_url("**/r/**?new=1")
    report = Report.objects.get()
    assert report.district.code == "pieschen" and report.category.code == "litter"
    # The public map page has no empty map box either.
    page.goto(live_server.url + "/")
    assert page.locator(".map-frame-public").is_hidden()
    assert page.locator("#event-filter-box").get_attribute("open") is not None
    assert f"#{report.pk}" in page.inner_text(".report-list")
    assert axe_serious_without_script(page) == []


def axe_serious_without_script(page) -> list[str]:
    """axe-core on what a browser without JavaScript shows: axe needs a script, so it runs in a
    second page holding the same HTML with every script taken out (and <noscript> shown)."""
    html = re.sub(r"<script\b[^>]*>.*?</script>", "", page.content(), flags=re.S)
    html = html.replace("<noscript>", "<div>").replace("</noscript>", "</div>")
    other = page.context.browser.new_context(bypass_csp=True, viewport=page.viewport_size)
    try:
        checker = other.new_page()
        checker.route(
            page.url,
            lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
        )
        checker.goto(page.url)
        assert "js" not in (checker.get_attribute("html", "class") or "")
        return axe_serious(checker)
    finally:
        other.close()
