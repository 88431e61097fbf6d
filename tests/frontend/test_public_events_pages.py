"""Events on the resident pages, server side: a report's page lists the events around it, every
page links to the events, the public map carries the events filter, and a bulky-waste report
sent without JavaScript next to a scheduled collection is flagged like one sent through the API."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.utils import timezone

from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import report_create
from tests.conftest import jpeg_bytes, upload
from tests.events.helpers import make_event, north_of

pytestmark = pytest.mark.django_db

ALAUNPARK = Point(13.75735, 51.06835, srid=4326)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()


def _report(point: Point, category: str = "litter") -> Report:
    report, _ = report_create(
        category=category, location=point, description="Müll am Eck", email="a@example.org"
    )
    report_dispatch(report=report)
    return report


def _tomorrow_at(hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def test_report_page_lists_upcoming_events_nearby_only(client):
    report = _report(ALAUNPARK)
    make_event(
        title="Flohmarkt im Alaunpark",
        start=_tomorrow_at(10),
        location=north_of(ALAUNPARK, 150),
        category="market",
    )
    make_event(
        title="Konzert an der Frauenkirche",
        start=_tomorrow_at(19),
        location=north_of(ALAUNPARK, -2000),
        category="concert",
    )
    make_event(
        title="Vorbei",
        start=timezone.now() - timedelta(days=2),
        location=ALAUNPARK,
        category="market",
    )
    html = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Events nearby" in html
    section = html[html.index('aria-labelledby="nearby-events-title"') :]
    assert "Flohmarkt im Alaunpark" in section
    link = re.search(r'href="(/events/\d+/)">Flohmarkt im Alaunpark', section).group(1)
    assert client.get(link).status_code == 200
    assert "Konzert an der Frauenkirche" not in html  # 2 km away
    assert "Vorbei" not in html  # over
    assert "/static/frontend/events.css" in html


def test_report_page_without_events_nearby_says_so(client):
    report = _report(ALAUNPARK)
    html = client.get(f"/reports/{report.pk}/").content.decode()
    assert "No events nearby in the coming weeks." in html


@pytest.mark.parametrize("path", ["/", "/report/new/", "/events/"])
def test_navigation_links_to_the_events(client, path):
    html = client.get(path).content.decode()
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    assert '<a href="/events/">Events</a>' in nav


def test_public_map_has_an_events_filter_that_works_without_javascript(client):
    html = client.get("/").content.decode()
    form = re.search(r'<form id="event-filter"[^>]*>', html).group(0)
    assert 'action="/events/"' in form and 'method="get"' in form and 'role="search"' in form
    for field in ("event-q", "event-when", "event-start", "event-end"):
        assert f'<label for="{field}">' in html
    assert '<option value="weekend">this weekend</option>' in html
    assert '<a href="/events/">' in html  # the list below the map points to the events
    config = re.search(r'id="public-map-config"[^>]*>(.*?)</script>', html, re.S).group(1)
    assert '"eventsApi": "/api/v1/events/"' in config
    assert '"timeZone": "Europe/Berlin"' in config
    # The form without JavaScript opens the events page with the same search.
    response = client.get("/events/", {"q": "Flohmarkt", "when": "weekend", "start": "", "end": ""})
    assert response.status_code == 200


def _send_without_javascript(client, point: Point) -> Report:
    response = client.post(
        "/report/new/",
        {
            "category": "bulky_waste",
            "lat": f"{point.y:.7f}",
            "lon": f"{point.x:.7f}",
            "description": "Sofa am Straßenrand",
            "idempotency_key": f"nojs-{point.y}",
            "photo": upload(jpeg_bytes()),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Report.objects.latest("id")


def test_form_without_javascript_flags_a_probable_booked_pickup(client):
    collection = make_event(start=_tomorrow_at(7), location=ALAUNPARK)
    near = _send_without_javascript(client, north_of(ALAUNPARK, 20))
    flag = near.flags.get()
    assert flag.kind == ReportFlag.Kind.BOOKED_PICKUP
    assert flag.data == {"event": collection.pk, "date": _tomorrow_at(7).date().isoformat()}
    far = _send_without_javascript(client, north_of(ALAUNPARK, 200))
    assert not far.flags.exists()


def test_report_form_knows_where_to_ask_about_pickups(client):
    html = client.get("/report/new/").content.decode()
    assert '"pickup": "/api/v1/events/pickups/"' in html
    assert re.search(
        r'<p id="pickup" class="pickup-notice" role="status" aria-live="polite">', html
    )


def test_event_windows_are_defined_once_and_the_map_script_gets_them(client):
    import json
    from datetime import date

    from events.selectors import EVENT_WINDOWS, event_window

    wednesday, saturday, sunday = date(2026, 3, 11), date(2026, 3, 14), date(2026, 3, 15)
    assert event_window("weekend", today=wednesday) == (saturday, sunday)
    assert event_window("weekend", today=sunday) == (saturday, sunday)
    assert event_window("week", today=wednesday) == (wednesday, date(2026, 3, 17))
    assert event_window("month", today=wednesday) == (wednesday, date(2026, 4, 9))
    page = client.get("/").content.decode()
    config = json.loads(
        re.search(r'id="public-map-config" type="application/json">(.*?)</script>', page)[1]
    )
    today = timezone.localdate()
    assert config["eventWindows"] == {
        name: [d.isoformat() for d in event_window(name, today=today)] for name in EVENT_WINDOWS
    }
    # The map's filter offers exactly those windows (and "from now on").
    offered = re.findall(r'<select id="event-when".*?</select>', page, re.S)[0]
    assert set(re.findall(r'value="(\w*)"', offered)) == {"", *EVENT_WINDOWS}
