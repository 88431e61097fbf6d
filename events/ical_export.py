"""iCalendar (RFC 5545) out: events as a calendar that apps can subscribe to."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.utils import timezone

from events.categories import EXPORT_LABELS
from events.models import Event


def export_uid(event: Event) -> str:
    """Each exported occurrence is a calendar entry of its own, so it needs its own UID; two
    feeds may use the same UID, so the feed is part of it. Stable across exports, so a
    subscribed calendar updates its entries instead of duplicating them."""
    own = f"{event.uid}/{event.recurrence_key}" if event.recurrence_key else event.uid
    return f"feed-{event.feed_id}/{own}"


def _dates(event: Event, tz: ZoneInfo) -> dict:
    """DTSTART with DTEND after it (RFC 5545 3.6.1), or DURATION:PT0S for an instant; all-day
    events as dates, ending on the next day at the earliest."""
    if event.all_day:
        start = event.start.astimezone(tz).date()
        end = event.end.astimezone(tz).date()
        return {"dtstart": start, "dtend": max(end, start + timedelta(days=1))}
    start = event.start.astimezone(tz)
    if event.end > event.start:
        return {"dtstart": start, "dtend": event.end.astimezone(tz)}
    return {"dtstart": start, "duration": timedelta(0)}


def events_to_ical(
    *,
    events: Iterable[Event],
    name: str = "civicmap",
    now: datetime | None = None,
    note: str = "",
) -> bytes:
    """A calendar of `events`. `note` (e.g. that the list was cut) is written into the file as
    the calendar's DESCRIPTION (RFC 7986) and X-WR-CALDESC, where calendar apps show it."""
    now = now or timezone.now()
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//civicmap//events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    if note:
        calendar.add("description", note)
        calendar.add("x-wr-caldesc", note)
    tz = ZoneInfo(settings.TIME_ZONE)
    uids: set[str] = set()
    for event in events:
        entry = icalendar.Event()
        uid = export_uid(event)
        if uid in uids:  # cannot happen for stored events (unique by feed, UID, occurrence)
            uid = f"{uid}#{event.pk}"
        uids.add(uid)
        entry.add("uid", uid)
        entry.add("dtstamp", now)
        entry.add("summary", event.title)
        for prop, value in _dates(event, tz).items():
            entry.add(prop, value)
        if event.description:
            entry.add("description", event.description)
        if event.venue_name:
            entry.add("location", event.venue_name)
        if event.location is not None:
            entry.add("geo", (event.location.y, event.location.x))
        if event.category:
            entry.add("categories", [EXPORT_LABELS.get(event.category, event.category)])
        if event.url:
            entry.add("url", event.url)
        if event.organiser_email:
            organiser = icalendar.vCalAddress(f"mailto:{event.organiser_email}")
            if event.organiser:
                organiser.params["CN"] = event.organiser
            entry.add("organizer", organiser)
        entry.add("status", event.status.upper())
        calendar.add_component(entry)
    calendar.add_missing_timezones()
    return calendar.to_ical()
