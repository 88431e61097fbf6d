import re
from datetime import timedelta

import icalendar
import pytest
from django.contrib.gis.geos import Point
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from demo.loaders import FIXTURES
from events.models import Event, Venue
from events.selectors import events_nearby
from events.services import feed_import, venues_import
from frontend.maps import base_map, map_parts
from frontend.maps_events import events_layer
from reports.models import Category, Report
from reports.services import report_create, report_transition
from tests.events.helpers import north_of

pytestmark = pytest.mark.django_db

ALAUNPARK = Point(13.75735, 51.06835, srid=4326)


@pytest.fixture
def client():
    return Client(headers={"Accept-Language": "en"})


@pytest.fixture
def demo():
    """The demo calendar imported as of now: the weekly flea market covers any weekend."""
    venues_import(path=FIXTURES / "dresden_venues.csv")
    feed_import(source="dresden-demo", data=(FIXTURES / "dresden_events.ics").read_bytes())


def _report(point: Point, code: str = "litter") -> Report:
    report, _ = report_create(
        category=Category.objects.get(code=code), location=point, description="Müll", photos=[]
    )
    return report


def _third_party_urls(html: str) -> list[str]:
    """Resources the page loads (scripts, images, stylesheets), not links a user may follow."""
    urls = re.findall(r"src=\"(https?://[^\"]+)\"", html)
    urls += re.findall(r"<link[^>]+href=\"(https?://[^\"]+)\"", html)
    return [u for u in urls if "openstreetmap.org" not in u]


def test_searching_flohmarkt_near_alaunpark_this_weekend(client, demo):
    alaunpark = Venue.objects.get(name="Alaunpark")
    response = client.get(
        "/events/", {"q": "Flohmarkt", "venue": alaunpark.pk, "radius": 500, "when": "weekend"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Flohmarkt im Alaunpark" in html
    assert "Elbeflohmarkt" not in html  # at the Albertbrücke, more than 500 m away
    assert 'Results <span class="count">(1)</span>' in html
    # The small map carries the event; assets are the app's own.
    assert "L.map(" in html and "/static/leaflet/leaflet.js" in html
    assert "L.marker(" in html and ".bindPopup(" in html
    assert "$(" not in html  # no jQuery on these pages: folium.Popup would break the map
    assert _third_party_urls(html) == []
    # The same search to subscribe to.
    ics_link = re.search(r'href="(/api/v1/events/calendar.ics\?[^"]+)"', html).group(1)
    assert "q=Flohmarkt" in ics_link and "near=51.068350%2C13.757350" in ics_link
    assert f'href="webcal://testserver{ics_link}"' in html
    ics = client.get(ics_link.replace("&amp;", "&"))
    entries = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in entries] == ["Flohmarkt im Alaunpark"]


def test_event_list_without_a_search_lists_upcoming_events_in_pages(client, demo):
    response = client.get("/events/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'rel="next"' in html
    assert html.count('class="event-item') == 20


def test_event_page_shows_open_reports_nearby_and_a_calendar_file(client, demo):
    event = Event.objects.filter(title="Flohmarkt im Alaunpark").earliest("start")
    near = _report(north_of(event.location, 120))
    far = _report(north_of(event.location, 900))
    done = _report(north_of(event.location, 50))
    report_transition(report=done, to=Report.Status.REJECTED, note="Kein Müll")
    response = client.get(f"/events/{event.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Flohmarkt im Alaunpark" in html and "Neustadt" in html
    assert f'href="/reports/{near.pk}/"' in html
    assert f'href="/reports/{far.pk}/"' not in html
    assert f'href="/reports/{done.pk}/"' not in html
    assert "Open reports within 300 m" in html
    assert _third_party_urls(html) == []
    ics = client.get(f"/events/{event.pk}.ics")
    assert ics["Content-Type"].startswith("text/calendar")
    entry = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(entry["SUMMARY"]) == "Flohmarkt im Alaunpark"
    assert entry["DTSTART"].dt == timezone.localtime(event.start)


def test_cancelled_event_is_marked(client, demo):
    event = Event.objects.get(title="Sperrmüllsammlung Plauen (Chemnitzer Platz)")
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert "This event is cancelled." in html


def test_unknown_or_retired_event_is_404(client, demo):
    event = Event.objects.first()
    event.retired_at = timezone.now()
    event.save()
    assert client.get(f"/events/{event.pk}/").status_code == 404
    assert client.get("/events/999999/").status_code == 404
    assert client.get("/events/999999.ics").status_code == 404


def test_invalid_form_input_still_shows_a_page(client, demo):
    response = client.get("/events/", {"start": "kein Datum", "radius": "7"})
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()


def test_nearby_events_include_renders_for_a_report_page(demo):
    soon = timezone.now() + timedelta(days=2)
    events = list(events_nearby(point=ALAUNPARK, meters=300, now=soon - timedelta(days=2)))
    assert events
    html = render_to_string("frontend/events/_nearby_events.html", {"nearby_events": events})
    assert "Events nearby" in html and "Flohmarkt im Alaunpark" in html and " m away" in html
    empty = render_to_string("frontend/events/_nearby_events.html", {"nearby_events": []})
    assert "No events nearby" in empty


def test_events_layer_adds_to_any_map_without_extra_assets(demo):
    events = list(Event.objects.current().filter(title__startswith="Flohmarkt")[:3])
    events.append(Event(title="Ohne Ort", start=timezone.now(), end=timezone.now()))
    fmap = base_map()
    group = events_layer(events, name="Veranstaltungen").add_to(fmap)
    parts = map_parts(fmap)
    assert group.get_name() in parts.script
    assert parts.script.count("L.marker(") == 3  # the one without a place is left out
    assert "Flohmarkt im Alaunpark" in parts.script and "$(" not in parts.script
    assert _third_party_urls(parts.header) == []


def test_a_search_cut_at_the_ranked_matches_says_so(client, demo, monkeypatch):
    # Relevance ranks only the RANKED_MATCHES matches soonest after the start (events.selectors);
    # with more matches than that the page must not pretend that is all there is.
    monkeypatch.setattr("events.selectors.RANKED_MATCHES", 2)
    monkeypatch.setattr("frontend.views_events.RANKED_MATCHES", 2)
    cut = client.get("/events/", {"q": "Flohmarkt", "order": "relevance"}).content.decode()
    assert 'Results <span class="count">(2)</span>' in cut
    assert "These are the 2 best matches among the next events." in cut
    whole = client.get("/events/").content.decode()  # no search: every event, no such hint
    assert "best matches" not in whole


def test_search_results_are_in_date_order_and_the_order_is_shown_and_switchable(client, demo):
    html = client.get("/events/", {"q": "Flohmarkt"}).content.decode()
    starts = re.findall(r'<time datetime="([^"]+)">', html)
    assert len(starts) >= 3 and starts == sorted(starts)  # 5 Dec before 12 Dec before 19 Dec
    order = html[html.index('class="event-order"') :]
    order = order[: order.index("</nav>")]
    assert '<strong aria-current="true">date</strong>' in order
    best = re.search(r'href="(\?[^"]*order=relevance[^"]*)"', order).group(1)
    assert "q=Flohmarkt" in best.replace("&amp;", "&")
    ranked = client.get("/events/" + best.replace("&amp;", "&")).content.decode()
    assert '<strong aria-current="true">best match</strong>' in ranked
    # Without search words there is nothing to rank: the list is by date and says so.
    plain = client.get("/events/", {"order": "relevance"}).content.decode()
    starts = re.findall(r'<time datetime="([^"]+)">', plain)
    assert starts == sorted(starts)
    assert "order=relevance" not in plain[plain.index('class="event-order"') :][:300]
