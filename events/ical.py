"""iCalendar (RFC 5545) in, without the database.

`feed_parse` turns a feed into plain `ParsedEvent`s (recurring events expanded over a window).
Writing events out is `events.ical_export`; category labels are `events.categories`.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic as time_monotonic
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from django.conf import settings
from django.utils import timezone

from events.categories import category_code
from events.ical_limits import (  # noqa: F401  (the limits are part of the parser's contract)
    FREQUENCY_SECONDS,
    MAX_OCCURRENCES_PER_FEED,
    MAX_OCCURRENCES_PER_SERIES,
    MAX_REPETITIONS_WALKED,
    PARSE_SECONDS,
    SINGLE_PROPERTIES,
    TooSlow,
    every_text,
    repetition_seconds,
    time_limit,
)
from events.models import Event

logger = logging.getLogger(__name__)

FEED_NOT_ICALENDAR = "This is not an iCalendar feed (no BEGIN:VCALENDAR): {detail}"
FEED_UNREADABLE = "The feed could not be read as iCalendar: {detail}"

MAX_TITLE = 500
MAX_UID = 500


class FeedBroken(Exception):
    """The feed as a whole cannot be used; nothing from it may be written."""


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


def _decode(data: bytes | str) -> str:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise FeedBroken(FEED_NUL.format(position=text.index("\x00")))
    return text


def _series_window(
    uid: str, components: list, *, now: datetime, horizon: datetime, result: "ParseResult"
) -> datetime | None:
    """The end of the window to expand this series over: the feed's horizon, earlier when
    the series repeats so often that the cap would be passed; None when even reaching the
    window would walk too many repetitions."""
    master = next((c for c in components if c.get("RRULE") is not None), None)
    if master is None:
        return horizon
    every = repetition_seconds(master)
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
                uid=uid, every=every_text(every), since=since.date(), limit=MAX_REPETITIONS_WALKED
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
        with time_limit(seconds):
            return _parse(text, now=now, days=days, deadline=time_monotonic() + seconds)
    except TooSlow:
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
    except TooSlow:
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
            raise TooSlow
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
        except TooSlow:
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
