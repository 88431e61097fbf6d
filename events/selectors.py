"""Reads of the events app: search, events near a place, scheduled bulky-waste collections."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import DurationField, F, Func, Q, QuerySet, Value
from django.utils import timezone

from core.db_router import read_alias
from districts.geo import distance_to, within_metres
from events.models import (
    BULKY_WASTE,
    CATEGORY_LABELS,
    Event,
    Feed,
    Venue,
    archive_cutoff,
    search_lexemes,
)

DEFAULT_RADIUS_METERS = 1000
MAX_RADIUS_METERS = 50_000
PICKUP_METERS = 50
PICKUP_DAYS_AFTER = 2
ORDERINGS = ("relevance", "start", "-start", "distance")
# Relevance ordering ranks this many matches: the ones nearest in time to the start of the
# search window (a common word is in thousands of events; ranking all of them before the first
# page cost 50-150 ms on 200k events, these cost about 1 ms through the GiST index on start,
# end and search vector). A city calendar's search is about what comes soon; `ordering=start`
# lists every match.
RANKED_MATCHES = 200
# From this many estimated matches among the current events on, the nearest ones come from the
# GiST index in time order (it reads about RANKED_MATCHES / share of matches index entries);
# below, from the GIN index (which reads every match). Measured on 200k events to come
# (2026-12-03): ~600 matches, GIN 11 ms and GiST 20 ms; ~2,000, GIN 48 ms and GiST 13 ms. The
# threshold lies between, away from both, so that the planner's estimate (a sample) does not
# flip a term from one index to the other between two ANALYZEs.
KNN_ABOVE_MATCHES = 1000


def _search_query(q: str) -> SearchQuery:
    return SearchQuery(q, config="german", search_type="websearch") | SearchQuery(
        q, config="english", search_type="websearch"
    )


@lru_cache(maxsize=1024)
def _estimated_matches(q: str, alias: str, archive: bool) -> float:
    """The planner's estimate of the current events matching `q` (EXPLAIN: planned, not run),
    the archive included or not. Kept per process: it only picks the index, never changes the
    results."""
    events = Event.objects.using(alias).current().filter(search=_search_query(q))
    if not archive:
        events = events.unarchived()
    return json.loads(events.explain(format="json"))[0]["Plan"]["Plan Rows"]


class TimeGap(Func):
    """`start <-> t`: how far a timestamp lies from `t`, either way (btree_gist's distance
    operator, which a GiST index can return rows in the order of)."""

    arg_joiner = " <-> "
    template = "(%(expressions)s)"
    output_field = DurationField()


# The "when" windows of the event search (page, map and their scripts): first and last local day,
# both included, as seen on `today`. "This weekend" is the coming one on a weekday, the current
# one on Saturday and Sunday.
EVENT_WINDOWS = ("today", "weekend", "week", "month")


def event_window(name: str, *, today: date) -> tuple[date, date]:
    """First and last day of a named window; KeyError if unknown."""
    if name == "weekend":
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        if today.weekday() == 6:
            saturday = today - timedelta(days=1)
        return saturday, saturday + timedelta(days=1)
    return {
        "today": (today, today),
        "week": (today, today + timedelta(days=6)),
        "month": (today, today + timedelta(days=29)),
    }[name]


def _local(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))


def day_start(day: date) -> datetime:
    """Local midnight at the start of a day."""
    return _local(day)


def day_end(day: date) -> datetime:
    """Local midnight at the end of a day (exclusive), right across a DST switch."""
    return _local(day + timedelta(days=1))


def event_search(
    *,
    q: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    near: Point | None = None,
    radius: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    district: str | None = None,
    category: list[str] | str | None = None,
    ordering: str = "",
    now: datetime | None = None,
) -> QuerySet[Event]:
    """Current events (cancelled ones included, marked) overlapping [start, end), start
    defaulting to now; full text in German and English; near a point, in a bounding box
    (minlon, minlat, maxlon, maxlat), a district (code) or categories.

    Ordering: `relevance` (default with `q`: the best of the RANKED_MATCHES matches nearest in
    time to `start`, ties soonest first), `start` (default without), `-start`, `distance` (with
    `near`). With `q` and `relevance`, the planner is asked (EXPLAIN, not run; once a term and
    process) how many events match, to pick the index."""
    # A search may be a moment behind: it reads the replica when one is configured.
    events = Event.objects.using(read_alias()).current().select_related("district", "feed")
    now = now or timezone.now()
    start = start or now
    events = events.filter(end__gte=start)
    # Nothing archived ends that late: the same events, from indexes without the archive.
    archive = start < archive_cutoff(now)
    if not archive:
        events = events.unarchived()
    if end is not None:
        events = events.filter(start__lt=end)
    q = (q or "").strip()
    if q:
        query = _search_query(q)
    if near is not None:
        meters = min(float(radius or DEFAULT_RADIUS_METERS), MAX_RADIUS_METERS)
        events = within_metres(events, field="location", point=near, metres=meters).annotate(
            distance=distance_to("location", near)
        )
    if bbox is not None:
        events = events.filter(location__contained=Polygon.from_bbox(bbox))
    if district:
        events = events.filter(district__code=district)
    if category:
        codes = [category] if isinstance(category, str) else list(category)
        events = events.filter(category__in=codes)
    ordering = ordering or ("relevance" if q else "start")
    if q:
        unsearched, events = events, events.filter(search=query)
        if ordering == "relevance":
            # Rank the RANKED_MATCHES matches nearest in time to the window's start, best
            # first, ties soonest first. Which index finds them is chosen by the planner's
            # estimate of the matches: a few (a rare term), the GIN index finds them all and
            # they are sorted by time; many (a common term), the GiST index on start, end and
            # the search vector hands over the nearest ones, in order, checking the text in
            # the index. (Left alone, the planner would walk the GiST index for a rare term
            # too, all of it: its cost model does not know that signatures do not prune.)
            if _estimated_matches(q, events.db, archive) > KNN_ABOVE_MATCHES:
                nearest = unsearched.alias(lexemes=search_lexemes()).filter(lexemes=query)
            else:
                nearest = events
            nearest = nearest.order_by(TimeGap(F("start"), Value(start)))[:RANKED_MATCHES]
            # Every candidate matches: the outer query need not test the text again.
            return (
                unsearched.filter(pk__in=nearest.values("pk"))
                .annotate(rank=SearchRank(F("search"), query))
                .order_by("-rank", "start", "id")
            )
        events = events.annotate(rank=SearchRank(F("search"), query))
    if ordering == "distance" and near is not None:
        return events.order_by("distance", "start", "id")
    if ordering == "-start":
        return events.order_by("-start", "-id")
    return events.order_by("start", "id")


def event_get(*, event_id: int) -> Event | None:
    return Event.objects.current().select_related("district", "feed").filter(pk=event_id).first()


def events_nearby(
    *, point: Point, meters: float = 500, now: datetime | None = None, days: int = 30
) -> QuerySet[Event]:
    """Upcoming, not cancelled events within `meters` of a point in the next `days` days,
    nearest first (e.g. for a report's page)."""
    now = now or timezone.now()
    events = Event.objects.scheduled().filter(end__gte=now, start__lt=now + timedelta(days=days))
    return (
        within_metres(events, field="location", point=point, metres=meters)
        .annotate(distance=distance_to("location", point))
        .select_related("district")
        .order_by("start", "distance", "id")
    )


def bulky_waste_collections_near(
    *,
    point: Point,
    day: date,
    meters: float = PICKUP_METERS,
    days_after: int = PICKUP_DAYS_AFTER,
) -> QuerySet[Event]:
    """Scheduled public bulky-waste collections within `meters` of a point taking place on
    `day` or one of the `days_after` days after it (local calendar days), soonest first."""
    window_start, window_end = day_start(day), day_end(day + timedelta(days=days_after))
    events = (
        Event.objects.scheduled()
        .filter(category=BULKY_WASTE, start__lt=window_end)
        .filter(Q(end__gt=window_start) | Q(start__gte=window_start))
    )
    return (
        within_metres(events, field="location", point=point, metres=meters)
        .annotate(distance=distance_to("location", point))
        .order_by("start", "distance", "id")
    )


@dataclass(frozen=True)
class PickupCheck:
    collection: Event | None

    @property
    def probable(self) -> bool:
        return self.collection is not None

    @property
    def day(self) -> date | None:
        if self.collection is None:
            return None
        return timezone.localtime(self.collection.start).date()

    @property
    def flag_reason(self) -> str:
        """What a dispatcher reads on a report flagged for this collection (English, like
        every flag reason)."""
        if self.collection is None:
            return ""
        return (
            f"Probably a booked pickup on {self.day.isoformat()}: public bulky-waste "
            f"collection '{self.collection.title}' {self.collection.distance.m:.0f} m away."
        )

    @property
    def flag_data(self) -> dict:
        if self.collection is None:
            return {}
        return {"event": self.collection.pk, "date": self.day.isoformat()}


def pickup_check(*, point: Point, day: date) -> PickupCheck:
    return PickupCheck(collection=bulky_waste_collections_near(point=point, day=day).first())


def venue_list() -> QuerySet[Venue]:
    return Venue.objects.order_by("name")


def venue_get(*, venue_id: int) -> Venue | None:
    return Venue.objects.filter(pk=venue_id).first()


def category_choices() -> list[tuple[str, str]]:
    """(code, label) of the categories current events use, known ones first."""
    used = set(Event.objects.current().exclude(category="").values_list("category", flat=True))
    known = [(code, str(label)) for code, label in CATEGORY_LABELS.items() if code in used]
    other = sorted((code, code.replace("_", " ").title()) for code in used - CATEGORY_LABELS.keys())
    return known + other


def feed_list() -> QuerySet[Feed]:
    return Feed.objects.order_by("source")
