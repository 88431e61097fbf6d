"""iCalendar (RFC 5545) in and out, without the database.

`feed_parse` turns a feed into plain `ParsedEvent`s (recurring events expanded over a window);
`events_to_ical` writes events back out as a calendar that apps can subscribe to.
"""

import logging
import re
import signal
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic as time_monotonic
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify

from events.models import BULKY_WASTE, Event

logger = logging.getLogger(__name__)

FEED_NOT_ICALENDAR = "This is not an iCalendar feed (no BEGIN:VCALENDAR): {detail}"
FEED_UNREADABLE = "The feed could not be read as iCalendar: {detail}"

MAX_TITLE = 500
MAX_UID = 500

# German labels used when exporting; together with their synonyms they map back to the codes.
EXPORT_LABELS = {
    "market": "Markt",
    "music": "Konzert",
    "theatre": "Theater",
    "exhibition": "Ausstellung",
    "festival": "Fest",
    "sport": "Sport",
    "family": "Familie",
    "guided_tour": "Führung",
    "cleanup": "Putzaktion",
    "fair": "Messe",
    "christmas_market": "Weihnachtsmarkt",
    BULKY_WASTE: "Sperrmüll",
}
CATEGORY_SYNONYMS = {
    "markt": "market",
    "märkte": "market",
    "flohmarkt": "market",
    "trödelmarkt": "market",
    "wochenmarkt": "market",
    "bauernmarkt": "market",
    "market": "market",
    "flea market": "market",
    "konzert": "music",
    "musik": "music",
    "concert": "music",
    "music": "music",
    "theater": "theatre",
    "oper": "theatre",
    "theatre": "theatre",
    "ausstellung": "exhibition",
    "museum": "exhibition",
    "exhibition": "exhibition",
    "fest": "festival",
    "stadtfest": "festival",
    "festival": "festival",
    "sport": "sport",
    "lauf": "sport",
    "familie": "family",
    "kinder": "family",
    "family": "family",
    "führung": "guided_tour",
    "stadtführung": "guided_tour",
    "guided tour": "guided_tour",
    "putzaktion": "cleanup",
    "aufräumaktion": "cleanup",
    "frühjahrsputz": "cleanup",
    "clean-up": "cleanup",
    "cleanup": "cleanup",
    "messe": "fair",
    "fair": "fair",
    "trade fair": "fair",
    "weihnachtsmarkt": "christmas_market",
    "christmas market": "christmas_market",
    "sperrmüll": BULKY_WASTE,
    "sperrmuell": BULKY_WASTE,
    "sperrmüllsammlung": BULKY_WASTE,
    "sperrmüllabfuhr": BULKY_WASTE,
    "bulky waste": BULKY_WASTE,
    "bulky-waste collection": BULKY_WASTE,
}


class FeedBroken(Exception):
    """The feed as a whole cannot be used; nothing from it may be written."""


def category_code(labels: Iterable[str]) -> str:
    """The first label we know (by code, German label or synonym); else the first one as slug."""
    labels = [label.strip() for label in labels if label and label.strip()]
    for label in labels:
        key = label.lower()
        if key in CATEGORY_SYNONYMS:
            return CATEGORY_SYNONYMS[key]
        if key.replace("-", "_") in EXPORT_LABELS:
            return key.replace("-", "_")
    return slugify(labels[0]).replace("-", "_")[:64] if labels else ""


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    recurrence_key: str
    title: str
    description: str
    start: datetime
    end: datetime
    all_day: bool
    venue_name: str
    geo: tuple[float, float] | None  # (lon, lat)
    category: str
    keywords: str
    url: str
    organiser: str
    organiser_email: str
    status: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.uid, self.recurrence_key)


@dataclass
class ParseResult:
    events: list[ParsedEvent] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Read, but not exactly as written (a repeated property, a series cut at the cap).
    notes: list[str] = field(default_factory=list)
    name: str = ""


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _aware(value: date | datetime) -> datetime:
    """All-day dates become local midnight; floating times are read as local time."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=_tz())
    if timezone.is_naive(value):
        return value.replace(tzinfo=_tz())
    return value


def recurrence_key_for(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    return _aware(value).astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def _text(component: icalendar.cal.Component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value).strip()


def _geo(component: icalendar.cal.Component) -> tuple[float, float] | None:
    value = component.get("GEO")
    if value is None:
        return None
    try:
        lat, lon = float(value.latitude), float(value.longitude)
    except (AttributeError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lon, lat)


def _categories(component: icalendar.cal.Component) -> list[str]:
    try:
        return [str(c) for c in component.categories]
    except (AttributeError, TypeError, ValueError):
        return []


def _organiser(component: icalendar.cal.Component) -> tuple[str, str]:
    value = component.get("ORGANIZER")
    if value is None:
        return "", ""
    if isinstance(value, list):
        value = value[0]
    address = str(value)
    email = address[7:] if address.lower().startswith("mailto:") else ""
    name = str(getattr(value, "params", {}).get("CN", "")).strip()
    if "@" not in email:
        email = ""
    return (name or (address if not email else "")), email


def _status(component: icalendar.cal.Component) -> str:
    value = _text(component, "STATUS").upper()
    if value == "CANCELLED":
        return Event.Status.CANCELLED
    if value == "TENTATIVE":
        return Event.Status.TENTATIVE
    return Event.Status.CONFIRMED


def _occurrence(component: icalendar.cal.Component, recurring: bool) -> ParsedEvent:
    raw_start = component["DTSTART"].dt
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start)
    raw_end = component["DTEND"].dt if component.get("DTEND") is not None else None
    if raw_end is None:
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    else:
        end = _aware(raw_end)
    end = max(end, start)
    key = ""
    if recurring:
        rid = component.get("RECURRENCE-ID")
        key = recurrence_key_for(rid.dt if rid is not None else raw_start)
    categories = _categories(component)
    organiser, organiser_email = _organiser(component)
    url = _text(component, "URL")
    if not url.lower().startswith(("http://", "https://")):
        url = ""
    return ParsedEvent(
        uid=str(component["UID"]).strip(),
        recurrence_key=key,
        title=(_text(component, "SUMMARY") or "(untitled)")[:MAX_TITLE],
        description=_text(component, "DESCRIPTION"),
        start=start,
        end=end,
        all_day=all_day,
        venue_name=_text(component, "LOCATION")[:500],
        geo=_geo(component),
        category=category_code(categories),
        keywords=", ".join(categories)[:500],
        url=url[:1000],
        organiser=organiser[:300],
        organiser_email=organiser_email[:254],
        status=_status(component),
    )


# Expansion limits: a feed may hold RRULE:FREQ=SECONDLY without COUNT or UNTIL.
MAX_OCCURRENCES_PER_SERIES = 1000
MAX_OCCURRENCES_PER_FEED = 20000
# dateutil walks every repetition from DTSTART on, also those before the window.
MAX_REPETITIONS_WALKED = 100_000
PARSE_SECONDS = 30
# Properties an event has at most once (RFC 5545 3.6.1); a feed that repeats one keeps the first.
SINGLE_PROPERTIES = (
    "UID",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RECURRENCE-ID",
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "GEO",
    "STATUS",
    "URL",
    "ORGANIZER",
    "DTSTAMP",
)
FREQUENCY_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
FEED_NUL = (
    "The feed contains a NUL byte (at character {position}), which iCalendar text may not "
    "contain; the file is damaged or not text."
)
FEED_TOO_SLOW = (
    "Reading the feed took longer than {seconds} seconds (the limit per feed); its "
    "recurring events repeat too often to expand."
)
SERIES_TOO_DENSE = (
    "event {uid} repeats every {every} since {since}: more than {limit} repetitions before "
    "the import window; skipped"
)
SERIES_CUT = (
    "event {uid} repeats more often than {limit} times in the import window; occurrences up "
    "to {until} imported"
)
FEED_CUT = "the feed has more than {limit} occurrences in the import window; the rest is left out"
EVENT_UNREADABLE = "event {uid} could not be read and was skipped: {detail}"
PROPERTY_REPEATED = "event {uid} has {name} {count} times; the first one counts"


class _TooSlow(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """A hard limit where the process can have one (the main thread of a command or a worker
    process): dateutil may spend a long time inside a single call."""
    armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not armed:
        yield
        return

    def expire(signum, frame):
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _decode(data: bytes | str) -> str:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise FeedBroken(FEED_NUL.format(position=text.index("\x00")))
    return text


def _repetition_seconds(component: icalendar.cal.Component) -> float | None:
    """Roughly how many seconds lie between two repetitions of the event's RRULE (BYxxx lists
    finer than the frequency multiply it), or None without an RRULE."""
    rules = component.get("RRULE")
    if rules is None:
        return None
    rules = rules if isinstance(rules, list) else [rules]
    shortest = None
    for rule in rules:
        try:
            frequency = str(rule.get("FREQ", ["DAILY"])[0]).upper()
            interval = max(int(rule.get("INTERVAL", [1])[0]), 1)
        except (TypeError, ValueError, IndexError):
            continue
        seconds = FREQUENCY_SECONDS.get(frequency, 86400) * interval
        for part, unit in (("BYSECOND", 1), ("BYMINUTE", 60), ("BYHOUR", 3600)):
            values = rule.get(part) or []
            if values and unit < seconds:
                seconds /= len(values)
        shortest = seconds if shortest is None else min(shortest, seconds)
    return shortest


def _every(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}(s)"
    return f"{seconds:g} second(s)"


def _series_window(
    uid: str, components: list, *, now: datetime, horizon: datetime, result: "ParseResult"
) -> datetime | None:
    """The end of the window to expand this series over: the feed's horizon, earlier when
    the series repeats so often that the cap would be passed; None when even reaching the
    window would walk too many repetitions."""
    master = next((c for c in components if c.get("RRULE") is not None), None)
    if master is None:
        return horizon
    every = _repetition_seconds(master)
    try:
        since = _aware(master["DTSTART"].dt)
    except (AttributeError, KeyError, TypeError, ValueError):
        return horizon  # unreadable start: the expansion reports it
    if not every:
        return horizon
    before = max((now - since).total_seconds(), 0) / every
    if before > MAX_REPETITIONS_WALKED:
        result.skipped.append(
            SERIES_TOO_DENSE.format(
                uid=uid, every=_every(every), since=since.date(), limit=MAX_REPETITIONS_WALKED
            )
        )
        return None
    start = max(now, since)
    if (horizon - start).total_seconds() / every > MAX_OCCURRENCES_PER_SERIES:
        end = start + timedelta(seconds=every * MAX_OCCURRENCES_PER_SERIES)
        result.notes.append(
            SERIES_CUT.format(uid=uid, limit=MAX_OCCURRENCES_PER_SERIES, until=end.isoformat())
        )
        return end
    return horizon


def _calendar_of(timezones: list, components: list) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    for component in [*timezones, *components]:
        calendar.add_component(component)
    return calendar


def feed_parse(
    data: bytes | str, *, now: datetime, days: int = 180, seconds: float = PARSE_SECONDS
) -> ParseResult:
    """Every event of the feed that takes place between `now` and `now + days`, recurring ones
    expanded (EXDATE left out, RECURRENCE-ID overrides applied). Raises `FeedBroken` when the
    feed as a whole is unusable (not iCalendar, NUL bytes, over the time limit); a single
    unusable event is skipped and listed, the others are kept.

    Each event (UID) is expanded on its own, so one broken or runaway series cannot take the
    rest of the feed with it; a series is cut at MAX_OCCURRENCES_PER_SERIES occurrences, a
    feed at MAX_OCCURRENCES_PER_FEED, and the whole reading at `seconds`."""
    text = _decode(data)
    if "BEGIN:VCALENDAR" not in text[:2000].upper():
        raise FeedBroken(FEED_NOT_ICALENDAR.format(detail=repr(text.strip()[:80])))
    try:
        with _time_limit(seconds):
            return _parse(text, now=now, days=days, deadline=time_monotonic() + seconds)
    except _TooSlow:
        raise FeedBroken(FEED_TOO_SLOW.format(seconds=seconds)) from None


def _parse(text: str, *, now: datetime, days: int, deadline: float) -> ParseResult:
    try:
        # A stream may hold several VCALENDARs (RFC 5545 3.4): their events are read together.
        several = len(re.findall(r"^BEGIN:VCALENDAR\s*$", text, re.IGNORECASE | re.MULTILINE)) > 1
        calendars = (
            icalendar.Calendar.from_ical(text, multiple=True)
            if several
            else [icalendar.Calendar.from_ical(text)]
        )
    except _TooSlow:
        raise
    except Exception as exc:  # noqa: BLE001 - icalendar raises many kinds of errors
        raise FeedBroken(FEED_UNREADABLE.format(detail=exc)) from exc
    if not calendars:
        raise FeedBroken(FEED_NOT_ICALENDAR.format(detail=repr(text.strip()[:80])))
    calendar = calendars[0]
    for other in calendars[1:]:
        calendar.subcomponents.extend(other.subcomponents)
    result = ParseResult(name=_text(calendar, "X-WR-CALNAME"))
    timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    series: dict[str, list] = {}
    for component in calendar.subcomponents:
        if component.name != "VEVENT":
            continue
        uid = _text(component, "UID")
        for name in SINGLE_PROPERTIES:
            value = component.get(name)
            if isinstance(value, list):
                result.notes.append(PROPERTY_REPEATED.format(uid=uid, name=name, count=len(value)))
                component[name] = value[0]
        uid = _text(component, "UID")
        problem = None
        if not uid:
            problem = f"an event without UID ('{_text(component, 'SUMMARY')}')"
        elif len(uid) > MAX_UID:
            problem = f"an event with a UID longer than {MAX_UID} characters"
        elif component.get("DTSTART") is None:
            problem = f"event {uid} has no DTSTART"
        if problem:
            result.skipped.append(problem)
            continue
        series.setdefault(uid, []).append(component)
    horizon = now + timedelta(days=days)
    seen: dict[tuple[str, str], ParsedEvent] = {}
    for uid, components in series.items():
        if len(seen) >= MAX_OCCURRENCES_PER_FEED:
            result.notes.append(FEED_CUT.format(limit=MAX_OCCURRENCES_PER_FEED))
            break
        if time_monotonic() > deadline:
            raise _TooSlow
        recurring = any(
            c.get(name) is not None
            for c in components
            for name in ("RRULE", "RDATE", "RECURRENCE-ID")
        )
        end = _series_window(uid, components, now=now, horizon=horizon, result=result)
        if end is None:
            continue
        try:
            occurrences = recurring_ical_events.of(_calendar_of(timezones, components)).between(
                now, end
            )
            events = [_occurrence(c, recurring) for c in occurrences if c.name == "VEVENT"]
        except _TooSlow:
            raise
        except Exception as exc:  # noqa: BLE001 - bad dates and rules surface as many errors
            result.skipped.append(EVENT_UNREADABLE.format(uid=uid, detail=exc))
            continue
        for event in events[:MAX_OCCURRENCES_PER_SERIES]:
            if event.key in seen:
                result.skipped.append(f"event {uid} appears twice; the later entry counts")
            seen[event.key] = event
    result.events = sorted(seen.values(), key=lambda e: (e.start, e.uid, e.recurrence_key))
    return result


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
    tz = _tz()
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
