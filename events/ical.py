"""iCalendar (RFC 5545) in and out, without the database.

`feed_parse` turns a feed into plain `ParsedEvent`s (recurring events expanded over a window);
`events_to_ical` writes events back out as a calendar that apps can subscribe to.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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
FEED_RECURRENCE_BROKEN = "The recurring events of the feed could not be expanded: {detail}"

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


def feed_parse(data: bytes | str, *, now: datetime, days: int = 180) -> ParseResult:
    """Every event of the feed that takes place between `now` and `now + days`, recurring ones
    expanded (EXDATE left out, RECURRENCE-ID overrides applied). Raises `FeedBroken` when the
    feed as a whole is unusable; single unusable entries are skipped and listed."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if "BEGIN:VCALENDAR" not in text[:2000].upper():
        raise FeedBroken(FEED_NOT_ICALENDAR.format(detail=repr(text.strip()[:80])))
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # noqa: BLE001 - icalendar raises many kinds of errors
        raise FeedBroken(FEED_UNREADABLE.format(detail=exc)) from exc
    if isinstance(calendar, list):
        calendar = calendar[0]
    result = ParseResult(name=_text(calendar, "X-WR-CALNAME"))
    recurring_uids: set[str] = set()
    for component in list(calendar.subcomponents):
        if component.name != "VEVENT":
            continue
        problem = None
        if not _text(component, "UID"):
            problem = f"an event without UID ('{_text(component, 'SUMMARY')}')"
        elif len(_text(component, "UID")) > MAX_UID:
            problem = f"an event with a UID longer than {MAX_UID} characters"
        elif component.get("DTSTART") is None:
            problem = f"event {_text(component, 'UID')} has no DTSTART"
        if problem:
            result.skipped.append(problem)
            calendar.subcomponents.remove(component)
            continue
        if any(component.get(name) is not None for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring_uids.add(_text(component, "UID"))
    try:
        occurrences = recurring_ical_events.of(calendar).between(now, now + timedelta(days=days))
    except Exception as exc:  # noqa: BLE001 - bad RRULEs surface as many kinds of errors
        raise FeedBroken(FEED_RECURRENCE_BROKEN.format(detail=exc)) from exc
    seen: dict[tuple[str, str], ParsedEvent] = {}
    for component in occurrences:
        if component.name != "VEVENT":
            continue
        uid = _text(component, "UID")
        try:
            event = _occurrence(component, uid in recurring_uids)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            result.skipped.append(f"event {uid}: {exc}")
            continue
        if event.key in seen:
            result.skipped.append(f"event {uid} appears twice; the later entry counts")
        seen[event.key] = event
    result.events = sorted(seen.values(), key=lambda e: (e.start, e.uid, e.recurrence_key))
    return result


def export_uid(event: Event) -> str:
    """Each exported occurrence is a calendar entry of its own, so it needs its own UID."""
    return f"{event.uid}/{event.recurrence_key}" if event.recurrence_key else event.uid


def events_to_ical(
    *, events: Iterable[Event], name: str = "civicmap", now: datetime | None = None
) -> bytes:
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
    tz = _tz()
    for event in events:
        entry = icalendar.Event()
        entry.add("uid", export_uid(event))
        entry.add("dtstamp", now)
        entry.add("summary", event.title)
        if event.all_day:
            entry.add("dtstart", event.start.astimezone(tz).date())
            entry.add("dtend", event.end.astimezone(tz).date())
        else:
            entry.add("dtstart", event.start.astimezone(tz))
            entry.add("dtend", event.end.astimezone(tz))
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
