"""Small iCalendar feeds written by hand for the event tests, and a direct event maker."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.gis.geos import Point

from events.models import Event, Feed

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def vevent(
    uid: str, title: str, start: datetime | None, end: datetime | None = None, **extra
) -> str:
    """One VEVENT; times in Europe/Berlin. `extra` adds lines: rrule="FREQ=WEEKLY",
    geo="51.05;13.74", location="...", status="CANCELLED", categories="Markt", exdate=[...],
    recurrence_id=datetime, description="..."."""
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260901T000000Z", f"SUMMARY:{title}"]
    if start is not None:
        lines.append(f"DTSTART;TZID=Europe/Berlin:{stamp(start)}")
    if end is not None:
        lines.append(f"DTEND;TZID=Europe/Berlin:{stamp(end)}")
    if "recurrence_id" in extra:
        lines.append(f"RECURRENCE-ID;TZID=Europe/Berlin:{stamp(extra.pop('recurrence_id'))}")
    for moment in extra.pop("exdate", []):
        lines.append(f"EXDATE;TZID=Europe/Berlin:{stamp(moment)}")
    for name, value in extra.items():
        lines.append(f"{name.upper().replace('_', '-')}:{value}")
    lines.append("END:VEVENT")
    return "\n".join(lines)


def allday(uid: str, title: str, first: str, after_last: str, **extra) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260901T000000Z",
        f"SUMMARY:{title}",
        f"DTSTART;VALUE=DATE:{first}",
        f"DTEND;VALUE=DATE:{after_last}",
    ]
    lines += [f"{name.upper()}:{value}" for name, value in extra.items()]
    lines.append("END:VEVENT")
    return "\n".join(lines)


def calendar(*events: str) -> bytes:
    body = "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//civicmap tests//EN",
            VTIMEZONE,
            *events,
            "END:VCALENDAR",
        ]
    )
    return body.replace("\n", "\r\n").encode()


def north_of(point: Point, meters: float) -> Point:
    """A point `meters` due north on PostGIS' sphere (ST_DistanceSphere, R = 6370986 m)."""
    degrees = meters / (6370986 * 3.141592653589793 / 180)
    return Point(point.x, point.y + degrees, srid=4326)


def make_event(
    *,
    title: str = "Sperrmüllsammlung",
    start: datetime,
    hours: float = 7,
    location: Point | None = None,
    category: str = "bulky_waste",
    status: str = Event.Status.CONFIRMED,
    uid: str | None = None,
) -> Event:
    feed, _ = Feed.objects.get_or_create(source="test-feed")
    return Event.objects.create(
        feed=feed,
        uid=uid or f"{title}-{start.isoformat()}",
        title=title,
        start=start,
        end=start + timedelta(hours=hours),
        location=location,
        category=category,
        status=status,
    )
