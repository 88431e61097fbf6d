"""The iCalendar export read back by two parsers that did not write it (icalendar, vobject):
DTEND after DTSTART (or DURATION, or whole days), UIDs unique in the file even when two feeds
use the same UID, and a cut list announced inside the file."""

from datetime import timedelta

import icalendar
import pytest
import vobject
from rest_framework.test import APIClient

from api import events_views
from events.services import feed_import
from tests.events.helpers import allday, calendar, local, vevent

pytestmark = pytest.mark.django_db

NOW = local(2026, 10, 1, 12)
URL = "/api/v1/events/calendar.ics"


@pytest.fixture
def client():
    return APIClient(headers={"Accept-Language": "en"})


def _feed(suffix: str) -> bytes:
    return calendar(
        vevent("same@t", f"Ohne Ende {suffix}", local(2026, 10, 10, 19)),  # no DTEND
        vevent("timed@t", f"Konzert {suffix}", local(2026, 10, 11, 19), local(2026, 10, 11, 21)),
        allday("tag@t", f"Stadtfest {suffix}", "20261012", "20261014"),
        vevent(
            "woche@t",
            f"Wochenmarkt {suffix}",
            local(2026, 10, 6, 8),
            local(2026, 10, 6, 13),
            rrule="FREQ=WEEKLY;COUNT=3",
        ),
    )


@pytest.fixture
def two_feeds():
    feed_import(source="feed-a", data=_feed("A"), now=NOW)
    feed_import(source="feed-b", data=_feed("B"), now=NOW)


def _export(client, **params) -> bytes:
    response = client.get(URL, {"start": "2026-10-01", "end": "2026-11-01", **params})
    assert response.status_code == 200
    return response.content


def test_both_parsers_read_every_event_with_an_end_after_its_start(client, two_feeds):
    content = _export(client)
    parsed = icalendar.Calendar.from_ical(content)
    events = list(parsed.walk("VEVENT"))
    assert len(events) == 2 * (1 + 1 + 1 + 3)
    for event in events:
        start = event.decoded("DTSTART")
        if "DTEND" in event:
            assert event.decoded("DTEND") > start, event["UID"]
        else:
            assert "DURATION" in event, event["UID"]
    instant = next(e for e in events if str(e["SUMMARY"]) == "Ohne Ende A")
    assert "DTEND" not in instant and instant.decoded("DURATION") == timedelta(0)
    whole = next(e for e in events if str(e["SUMMARY"]) == "Stadtfest A")
    assert str(whole.decoded("DTSTART")) == "2026-10-12"
    assert str(whole.decoded("DTEND")) == "2026-10-14"

    other = vobject.readOne(content.decode("utf-8"))
    vevents = other.vevent_list
    assert len(vevents) == len(events)
    for vevent_ in vevents:
        start = vevent_.dtstart.value
        if hasattr(vevent_, "dtend"):
            assert vevent_.dtend.value > start
        else:
            assert vevent_.duration.value == timedelta(0)


def test_uids_are_unique_in_the_file_even_when_two_feeds_share_them(client, two_feeds):
    content = _export(client)
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(content).walk("VEVENT")]
    assert len(uids) == len(set(uids)) == 12
    vuids = [v.uid.value for v in vobject.readOne(content.decode("utf-8")).vevent_list]
    assert sorted(vuids) == sorted(uids)
    assert any(u.startswith("feed-") and u.endswith("/same@t") for u in uids)


def test_the_uids_stay_the_same_from_one_export_to_the_next(client, two_feeds):
    first = [str(e["UID"]) for e in icalendar.Calendar.from_ical(_export(client)).walk("VEVENT")]
    again = [str(e["UID"]) for e in icalendar.Calendar.from_ical(_export(client)).walk("VEVENT")]
    assert first == again


def test_a_cut_export_says_so_in_the_file_and_the_headers(client, two_feeds, monkeypatch):
    monkeypatch.setattr(events_views, "ICS_MAX_EVENTS", 5)
    response = client.get(URL, {"start": "2026-10-01", "end": "2026-11-01"})
    parsed = icalendar.Calendar.from_ical(response.content)
    assert len(list(parsed.walk("VEVENT"))) == 5
    assert "first 5 of 12 matching events" in str(parsed["DESCRIPTION"])
    assert "first 5 of 12" in str(parsed["X-WR-CALDESC"])
    assert response["X-Total-Count"] == "12" and response["X-Included-Count"] == "5"
    vobject.readOne(response.content.decode("utf-8"))  # still a valid calendar

    monkeypatch.setattr(events_views, "ICS_MAX_EVENTS", 100)
    complete = client.get(URL, {"start": "2026-10-01", "end": "2026-11-01"})
    assert complete["X-Total-Count"] == complete["X-Included-Count"] == "12"
    assert "DESCRIPTION" not in icalendar.Calendar.from_ical(complete.content)
