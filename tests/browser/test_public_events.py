"""Events on the resident pages, on a phone: the events layer of the public map with its search
box and date filter, and the bulky-waste pickup warning of the report form."""

from datetime import datetime, time, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from events.models import Event
from events.selectors import event_window
from tests.browser.test_resident_pages import NEUSTADT, axe_serious, offset_north, phone
from tests.events.helpers import make_event

pytestmark = pytest.mark.browser

ALAUNPARK = (51.06835, 13.75735)
KULTURPALAST = (51.05076, 13.73829)
ALBERTBRUECKE = (51.05789, 13.75534)


def _at(day, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _event(title: str, where: tuple[float, float], start: datetime, venue: str, **fields) -> Event:
    event = make_event(
        title=title, start=start, location=Point(where[1], where[0], srid=4326), **fields
    )
    Event.objects.filter(pk=event.pk).update(venue_name=venue)
    return event


@pytest.fixture
def calendar(dresden_committed):
    """A few events like the demo calendar's: the flea market this weekend, another one later."""
    today = timezone.localdate()
    sunday = event_window("weekend", today=today)[1]
    market_start = max(_at(sunday, 10), timezone.now() + timedelta(minutes=5))
    return {
        "market": _event(
            "Flohmarkt im Alaunpark", ALAUNPARK, market_start, "Alaunpark", category="market"
        ),
        "later": _event(
            "Flohmarkt an der Albertbrücke",
            ALBERTBRUECKE,
            _at(today + timedelta(days=12), 8),
            "Albertbrücke",
            category="market",
        ),
        "concert": _event(
            "Konzert der Philharmonie",
            KULTURPALAST,
            _at(today + timedelta(days=3), 19),
            "Kulturpalast",
            hours=2,
            category="concert",
        ),
    }


def _events_loaded(page) -> str:
    page.wait_for_function(
        "() => !['loading', null].includes("
        "document.documentElement.getAttribute('data-map-events'))"
    )
    return page.locator("html").get_attribute("data-map-events")


def _search(page, q: str, when: str) -> str:
    # On a phone the event search is folded under the map.
    if page.get_attribute("#event-filter-box", "open") is None:
        page.click("#event-filter-box summary")
    page.fill("#event-q", q)
    page.select_option("#event-when", when)
    page.evaluate("() => document.documentElement.setAttribute('data-map-events', 'loading')")
    page.click("#event-filter button[type=submit]")
    return _events_loaded(page)


def test_events_layer_search_and_date_filter(calendar, live_server, page_factory):
    page = phone(page_factory)
    page.goto(live_server.url + "/")
    assert _events_loaded(page) == "3"
    assert page.locator(".leaflet-marker-pane .event-marker").count() == 3
    # The phone shows the map first: it starts in the upper third, the event search is folded
    # below it, the layer box is folded and the attribution is one line.
    assert page.locator(".map-frame-public").bounding_box()["y"] < 844 / 3
    assert page.get_attribute("#event-filter-box", "open") is None
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    assert page.locator(".leaflet-control-attribution").bounding_box()["height"] <= 20
    # A layer of its own in the layer box.
    overlays = page.locator(".leaflet-control-layers-overlays label")
    assert overlays.filter(has_text="Veranstaltungen").count() == 1
    # Leaflet's own controls are named in the page's language, not in English.
    assert page.get_attribute(".leaflet-control-layers-toggle", "aria-label") == "Kartenebenen"
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Vergrößern"
    assert axe_serious(page) == []

    # "Flohmarkt" finds both markets; this weekend only the one at the Alaunpark.
    assert _search(page, "Flohmarkt", "") == "2"
    assert _search(page, "Flohmarkt", "weekend") == "1"
    assert "1" in page.inner_text("#events-status")
    page.locator(".event-marker").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    page.wait_for_timeout(600)  # the pan to show the popup reloads the layer: it stays open
    assert popup.count() == 1
    assert "Flohmarkt im Alaunpark" in popup.inner_text()
    assert "Alaunpark" in popup.inner_text().split("Flohmarkt im Alaunpark", 1)[1]
    market = calendar["market"]
    when = timezone.localtime(market.start)
    assert f"{when:%H:%M}" in popup.inner_text()  # the city's clock
    assert popup.locator("a").get_attribute("href") == f"/events/{market.pk}/"

    # A date range without the weekend: nothing.
    page.select_option("#event-when", "range")
    assert page.is_visible("#event-start")
    page.fill("#event-start", (timezone.localdate() + timedelta(days=10)).isoformat())
    page.fill("#event-end", (timezone.localdate() + timedelta(days=14)).isoformat())
    assert _search(page, "Flohmarkt", "range") == "1"
    page.locator(".event-marker").first.click()
    page.locator(".leaflet-popup-content", has_text="Flohmarkt an der Albertbrücke").wait_for()

    # Switched off in the layer box (folded on a phone: opened first): the markers go.
    page.focus(".leaflet-control-layers-toggle")  # opened from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-control-layers-expanded")
    # Leaflet ignores a click in the same moment the pointer enters the box (it guards taps
    # that open it): the pointer rests on the box first, as a person's does.
    overlays.filter(has_text="Veranstaltungen").hover()
    page.wait_for_timeout(100)
    overlays.filter(has_text="Veranstaltungen").click()
    assert not overlays.filter(has_text="Veranstaltungen").locator("input").is_checked()
    assert page.locator(".event-marker").count() == 0
    # Its popups close with it.
    page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    assert axe_serious(page) == []
    assert page.request_log.third_party() == []


def _form_at(page_factory, live_server, at: tuple[float, float]):
    """The report form on a phone at `at` (position allowed), bulky waste chosen; returns the
    page once the form has asked about a pickup there."""
    page = phone(page_factory, at=at)
    page.goto(live_server.url + "/report/new/")
    page.wait_for_load_state("networkidle")
    page.click("label[for=cat-bulky_waste]")
    page.wait_for_selector("#pickup[data-answer]", state="attached")
    return page


def test_bulky_waste_next_to_a_collection_warns_before_sending(
    dresden_committed, live_server, page_factory
):
    tomorrow = timezone.localdate() + timedelta(days=1)
    make_event(start=_at(tomorrow, 7), location=Point(NEUSTADT[1], NEUSTADT[0], srid=4326))

    far = _form_at(page_factory, live_server, offset_north(NEUSTADT, 200))
    assert far.locator("#pickup").inner_text() == ""
    assert "/api/v1/events/pickups/" in " ".join(far.request_log.urls)

    page = _form_at(page_factory, live_server, offset_north(NEUSTADT, 20))
    notice = page.locator("#pickup")
    assert f"gebuchte Abholung am {tomorrow:%d.%m.%Y}" in notice.inner_text()
    assert notice.get_attribute("role") == "status"
    assert notice.get_attribute("aria-live") == "polite"
    assert axe_serious(page) == []

    # Another category: the warning goes.
    page.click("label[for=cat-litter]")
    notice.filter(has_text="Abholung").wait_for(state="detached")
    assert notice.inner_text() == ""
    assert page.request_log.third_party() == []
    assert far.request_log.third_party() == []


def test_event_results_on_a_phone_come_first_in_date_order(calendar, live_server, page_factory):
    page = phone(page_factory)
    page.goto(live_server.url + "/events/?q=Flohmarkt")
    results = page.locator("#results-title").bounding_box()
    filters = page.locator("#event-filters").bounding_box()
    assert results["y"] < 844 and results["y"] < filters["y"]
    assert page.get_attribute("#event-filters", "open") is None  # folded below the results
    # ... in the document too: the keyboard meets the results before the folded filters.
    assert page.evaluate(
        """() => Boolean(document.querySelector('#results-title')
            .compareDocumentPosition(document.querySelector('#event-filters summary'))
            & Node.DOCUMENT_POSITION_FOLLOWING)"""
    )
    titles = page.locator(".event-item .event-title").all_inner_texts()
    assert titles == ["Flohmarkt im Alaunpark", "Flohmarkt an der Albertbrücke"]  # by date
    assert "Datum" in page.inner_text(".event-order [aria-current]")
    page.get_by_role("link", name="beste Treffer").click()
    page.wait_for_url("**order=relevance**")
    assert "beste Treffer" in page.inner_text(".event-order [aria-current]")
    assert axe_serious(page) == []
    # A wide screen keeps the filters open above the results.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/events/?q=Flohmarkt")
    assert page.get_attribute("#event-filters", "open") is not None
    assert (
        page.locator("#event-filters").bounding_box()["y"]
        < page.locator("#results-title").bounding_box()["y"]
    )
    assert axe_serious(page) == []
