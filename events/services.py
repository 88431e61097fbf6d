"""Writes of the events app: venues and iCalendar feed imports."""

import csv
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation

from core.validation import model_validate
from districts.selectors import district_for_point
from events.categories import EXPORT_LABELS
from events.ical import FeedBroken, ParsedEvent, feed_parse
from events.models import CATEGORY_LABELS, Event, Feed, Venue, archive_cutoff, archived_by

logger = logging.getLogger(__name__)

FEED_BROKEN = "Feed '{source}' is broken; previously imported events are kept. {detail}"
FEED_FAILED = "Feed '{source}' failed ({error}); previously imported events are kept."
FEED_UNREACHABLE = "Feed '{source}' could not be fetched: {detail}"
FEED_NOT_FOUND = "Feed file '{path}' does not exist."
FEED_TOO_LARGE = "Feed '{source}' is larger than {limit} bytes."
FEED_SCHEME = "Only http and https feed URLs can be fetched, not '{url}'."
VENUE_FILE_INVALID = "Venue file line {line}: {detail}"

EXPANSION_DAYS = 180
FETCH_TIMEOUT_SECONDS = 30
FETCH_MAX_BYTES = 20 * 1024 * 1024
USER_AGENT = "civicmap-event-import/1.0"

Progress = Callable[[str], None]

COMPARED_FIELDS = (
    "title",
    "description",
    "start",
    "end",
    "all_day",
    "venue_name",
    "location",
    "district_id",
    "category",
    "keywords",
    "url",
    "organiser",
    "organiser_email",
    "status",
    "retired_at",
    "archived",
)


class FeedUnavailable(Exception):
    """A temporary problem reaching a feed (network, server error): worth a retry."""


@dataclass
class ImportSummary:
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    cancelled: int = 0
    without_location: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    committed: bool = True

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.total} events: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.retired} retired (gone from the feed), "
            f"{self.cancelled} cancelled, {self.without_location} without a location, "
            f"{len(self.skipped)} entries skipped"
        )


# --- venues ----------------------------------------------------------------------------------


@transaction.atomic
def venues_import(*, path: Path) -> int:
    """Venues from a CSV file (name, aliases separated by '|', address, lat, lon); idempotent
    by name. Returns how many rows were read."""
    count = 0
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                point = Point(float(row["lon"]), float(row["lat"]), srid=4326)
                name = row["name"].strip()
            except (KeyError, TypeError, ValueError) as exc:
                raise ValidationError(VENUE_FILE_INVALID.format(line=line, detail=exc)) from exc
            venue = Venue.objects.filter(name=name).first() or Venue(name=name)
            venue.aliases = (row.get("aliases") or "").strip()
            venue.address = (row.get("address") or "").strip()
            venue.location = point
            model_validate(venue)
            venue.save()
            count += 1
    return count


class VenueIndex:
    """Finds a venue for a LOCATION text: exact name or alias first, else the longest venue
    name the text contains ("Kulturpalast, Schloßstraße 2" -> Kulturpalast)."""

    def __init__(self) -> None:
        self._names: list[tuple[str, Venue]] = sorted(
            ((name.lower(), venue) for venue in Venue.objects.all() for name in venue.names),
            key=lambda item: -len(item[0]),
        )

    def find(self, text: str) -> Venue | None:
        text = text.strip().lower()
        if not text:
            return None
        head = text.split(",")[0].strip()
        for name, venue in self._names:
            if name in (text, head):
                return venue
        for name, venue in self._names:
            if len(name) >= 4 and name in text:
                return venue
        return None


# --- feeds -----------------------------------------------------------------------------------


def feed_fetch(*, url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> bytes:
    """The body of a feed URL. Raises `FeedUnavailable` for what a retry may fix and
    `ValidationError` for what it won't."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValidationError(FEED_SCHEME.format(url=url))
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(FETCH_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise FeedUnavailable(FEED_UNREACHABLE.format(source=url, detail=exc)) from exc
        raise ValidationError(FEED_UNREACHABLE.format(source=url, detail=exc)) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FeedUnavailable(FEED_UNREACHABLE.format(source=url, detail=exc)) from exc
    if len(body) > FETCH_MAX_BYTES:
        raise ValidationError(FEED_TOO_LARGE.format(source=url, limit=FETCH_MAX_BYTES))
    return body


def _keywords(parsed: ParsedEvent) -> str:
    words = [parsed.keywords]
    if parsed.category in CATEGORY_LABELS:
        words.append(EXPORT_LABELS.get(parsed.category, ""))
        with translation.override("en"):
            words.append(str(CATEGORY_LABELS[parsed.category]))
    return ", ".join(w for w in words if w)[:500]


def _feed_failed(*, source: str, message: str, now: datetime) -> None:
    feed, _ = Feed.objects.get_or_create(source=source)
    feed.last_run_at = now
    feed.last_error = message
    feed.save(update_fields=["last_run_at", "last_error"])


def _same(event: Event, values: dict) -> bool:
    for name, value in values.items():
        current = getattr(event, name)
        if name == "location":
            if (current is None) != (value is None):
                return False
            if current is not None and not current.equals_exact(value, 1e-9):
                return False
        elif current != value:
            return False
    return True


def feed_import(
    *,
    source: str,
    data: bytes | str,
    name: str = "",
    now: datetime | None = None,
    days: int = EXPANSION_DAYS,
    commit: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one feed, idempotent by feed + UID + occurrence.

    The whole feed is parsed before anything is written, and written in one transaction: a
    broken feed raises `ValidationError` (its error is kept on the feed) and leaves the events
    imported before untouched. Events gone from the feed are retired, unless they are over
    (the past stays as it was). With `commit=False` nothing is saved (a dry run).
    """
    now = now or timezone.now()
    try:
        parsed = feed_parse(data, now=now, days=days)
    except FeedBroken as exc:
        message = FEED_BROKEN.format(source=source, detail=exc)
        logger.warning("%s", message)
        if commit:
            _feed_failed(source=source, message=message, now=now)
        raise ValidationError(message) from exc
    except Exception as exc:
        # Whatever else a hostile feed finds in the parsers: this feed fails, the run goes on.
        logger.exception("Feed %s could not be parsed", source)
        message = FEED_FAILED.format(source=source, error=f"{type(exc).__name__}: {exc}")
        if commit:
            _feed_failed(source=source, message=message, now=now)
        raise ValidationError(message) from exc
    if progress:
        progress(f"Parsed {len(parsed.events)} events from {source}.")
    with transaction.atomic():
        summary = _feed_write(
            source=source,
            name=name or parsed.name,
            parsed=parsed.events,
            now=now,
            progress=progress,
        )
        summary.skipped = parsed.skipped
        summary.notes = parsed.notes
        summary.committed = commit
        feed = Feed.objects.get(source=source)
        feed.last_run_at = feed.last_success_at = now
        feed.last_error = ""
        feed.last_summary = summary.as_dict()
        feed.save()
        if not commit:
            transaction.set_rollback(True)
    logger.info("Feed %s imported: %s", source, summary)
    return summary


def _feed_write(
    *,
    source: str,
    name: str,
    parsed: list[ParsedEvent],
    now: datetime,
    progress: Progress | None,
) -> ImportSummary:
    feed, _ = Feed.objects.select_for_update().get_or_create(source=source)
    if name and feed.name != name:
        feed.name = name
        feed.save(update_fields=["name"])
    summary = ImportSummary(source=source)
    existing = {(e.uid, e.recurrence_key): e for e in Event.objects.filter(feed=feed)}
    venues = VenueIndex()
    districts: dict[tuple[float, float], int | None] = {}
    to_create: list[Event] = []
    to_update: list[Event] = []
    seen: set[tuple[str, str]] = set()
    for number, item in enumerate(parsed, start=1):
        seen.add(item.key)
        point = Point(*item.geo, srid=4326) if item.geo else None
        if point is None and item.venue_name:
            venue = venues.find(item.venue_name)
            point = Point(venue.location.x, venue.location.y, srid=4326) if venue else None
        district_id = None
        if point is not None:
            coords = (point.x, point.y)
            if coords not in districts:
                district = district_for_point(point=point)
                districts[coords] = district.pk if district else None
            district_id = districts[coords]
        else:
            summary.without_location += 1
        values = {
            "title": item.title,
            "description": item.description,
            "start": item.start,
            "end": item.end,
            "all_day": item.all_day,
            "venue_name": item.venue_name,
            "location": point,
            "district_id": district_id,
            "category": item.category,
            "keywords": _keywords(item),
            "url": item.url,
            "organiser": item.organiser,
            "organiser_email": item.organiser_email,
            "status": item.status,
            "retired_at": None,
            "archived": archived_by(end=item.end, now=now),
        }
        if item.status == Event.Status.CANCELLED:
            summary.cancelled += 1
        event = existing.get(item.key)
        if event is None:
            to_create.append(
                Event(feed=feed, uid=item.uid, recurrence_key=item.recurrence_key, **values)
            )
            summary.created += 1
        elif _same(event, values):
            summary.unchanged += 1
        else:
            for attribute, value in values.items():
                setattr(event, attribute, value)
            event.updated_at = now
            to_update.append(event)
            summary.updated += 1
        if progress and number % 100 == 0:
            progress(f"[{number}/{len(parsed)}] {item.title}")
    Event.objects.bulk_create(to_create, batch_size=500)
    Event.objects.bulk_update(to_update, [*COMPARED_FIELDS, "updated_at"], batch_size=500)
    gone = [
        event.pk
        for key, event in existing.items()
        if key not in seen and event.retired_at is None and event.end >= now
    ]
    summary.retired = Event.objects.filter(pk__in=gone).update(retired_at=now, updated_at=now)
    return summary


ARCHIVE_BATCH = 10_000


def events_archive(*, now: datetime | None = None, batch: int = ARCHIVE_BATCH) -> int:
    """Archive the events over for two days (hourly, Celery beat); returns how many.

    A batch a statement, each committed on its own (a sweep after a long pause does not hold
    a million row locks); found by the partial index on the end of unarchived events.
    Idempotent: what is archived stays so, a second run finds nothing."""
    cutoff = archive_cutoff(now or timezone.now())
    total = 0
    while True:
        due = Event.objects.unarchived().filter(end__lt=cutoff).order_by("end").values("pk")
        archived = Event.objects.filter(pk__in=due[:batch]).update(archived=True)
        total += archived
        if archived < batch:
            return total


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def feed_import_source(
    *,
    source: str,
    feed: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a feed given as an http(s) URL or a file path. The feed is known by `feed`, else
    by its URL, else by its file name (so a checkout elsewhere finds the same feed)."""
    if _is_url(source):
        key = feed or source
        if progress:
            progress(f"Fetching {source} ...")
        try:
            data = feed_fetch(url=source)
        except (FeedUnavailable, ValidationError) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            if commit:
                _feed_failed(source=key, message=message, now=now or timezone.now())
            raise
    else:
        path = Path(source)
        key = feed or path.name
        if not path.is_file():
            raise ValidationError(FEED_NOT_FOUND.format(path=source))
        data = path.read_bytes()
    return feed_import(source=key, data=data, now=now, commit=commit, progress=progress)


def configured_feeds() -> list[str]:
    return list(getattr(settings, "EVENT_FEEDS", []))
