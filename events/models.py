"""Public events from the city's calendars (iCalendar feeds), searchable beside the reports."""

from datetime import datetime, timedelta

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db.models import F, Func
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from districts.models import District

# The category an event needs for "a scheduled public bulky-waste collection". It is spelled
# like the report category on purpose, so the API can match one with the other.
BULKY_WASTE = "bulky_waste"

# An event over for this long is archived: out of the indexes that search the events to come,
# so that they stay the size of a year's calendar while the archive grows. The archive sweep
# (events.services.events_archive, hourly) and a feed import mark it. A search whose window
# starts later than that can never match an archived event; two days, because "today" starts
# at local midnight, up to 25 hours back.
ARCHIVE_AFTER = timedelta(days=2)


def archive_cutoff(now: datetime) -> datetime:
    """Events that ended before this moment belong in the archive at `now`."""
    return now - ARCHIVE_AFTER


def archived_by(*, end: datetime, now: datetime) -> bool:
    """Whether an event ending at `end` belongs in the archive at `now`."""
    return end < archive_cutoff(now)


# Known event categories: code -> label. Feeds name categories freely (CATEGORIES:Flohmarkt);
# `events.categories.category_code` maps the labels and their synonyms below onto these codes, and
# an unknown label becomes its own slug.
CATEGORY_LABELS = {
    "market": _("Market"),
    "music": _("Concert"),
    "theatre": _("Theatre"),
    "exhibition": _("Exhibition"),
    "festival": _("Festival"),
    "sport": _("Sport"),
    "family": _("Family"),
    "guided_tour": _("Guided tour"),
    "cleanup": _("Clean-up"),
    "fair": _("Trade fair"),
    "christmas_market": _("Christmas market"),
    BULKY_WASTE: _("Bulky-waste collection"),
}


class Venue(models.Model):
    """A named place, so that a feed entry with a LOCATION but no GEO still lands on the map."""

    name = models.CharField(max_length=200, unique=True)
    aliases = models.CharField(
        max_length=500, blank=True, help_text="other names, separated by '|'"
    )
    address = models.CharField(max_length=300, blank=True)
    location = models.PointField(srid=4326)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def names(self) -> list[str]:
        return [self.name, *(a.strip() for a in self.aliases.split("|") if a.strip())]


class Feed(models.Model):
    """One iCalendar source (a URL or a file) and how its last import went."""

    source = models.CharField(max_length=500, unique=True, help_text="URL or name of the feed")
    name = models.CharField(max_length=200, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name or self.source


class EventQuerySet(models.QuerySet):
    def current(self) -> "EventQuerySet":
        """Events still in their feed (retired ones are kept only as history)."""
        return self.filter(retired_at__isnull=True)

    def unarchived(self) -> "EventQuerySet":
        """Events not (yet) in the archive: those to come, and those just over."""
        return self.filter(archived=False)

    def scheduled(self) -> "EventQuerySet":
        return self.current().exclude(status=Event.Status.CANCELLED)


def _search_vector() -> SearchVector:
    # German for stemming German text ("Märkte" -> "markt"), English for the English words
    # feeds and residents use; the title (A) weighs more than the description (B), venue and
    # keywords (C).
    vector = None
    for config in ("german", "english"):
        part = (
            SearchVector("title", weight="A", config=config)
            + SearchVector("description", weight="B", config=config)
            + SearchVector("venue_name", weight="C", config=config)
            + SearchVector("keywords", weight="C", config=config)
        )
        vector = part if vector is None else vector + part
    return vector


def search_lexemes() -> Func:
    """The search vector for the GiST index below: the same vector, spelled so that only a
    query naming this expression can use that index. A GiST index on `search` itself would be
    costed as cheap for any full-text filter, and on a rare term the planner would walk all of
    it (tsvector signatures do not prune) instead of the GIN index."""
    return Func(
        F("search"), template="(%(expressions)s || ''::tsvector)", output_field=SearchVectorField()
    )


class Event(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("confirmed")
        TENTATIVE = "tentative", _("tentative")
        CANCELLED = "cancelled", _("cancelled")

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="events")
    uid = models.CharField(max_length=500)
    # Empty for a single event; for one occurrence of a recurring event, its RECURRENCE-ID
    # (the start it was scheduled for, in UTC, or the date of an all-day one).
    recurrence_key = models.CharField(max_length=32, blank=True, default="")
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    venue_name = models.CharField(max_length=500, blank=True)
    location = models.PointField(srid=4326, null=True, blank=True, spatial_index=True)
    district = models.ForeignKey(
        District, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    category = models.SlugField(max_length=64, blank=True, db_index=True)
    # The feed's CATEGORIES and the category's labels, so "Märkte" also finds a "Flohmarkt".
    keywords = models.CharField(max_length=500, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    organiser = models.CharField(max_length=300, blank=True)
    organiser_email = models.EmailField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="set when the event disappeared from its feed"
    )
    archived = models.BooleanField(
        default=False,
        db_default=False,
        help_text="over for two days: out of the search indexes of what is to come",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search = models.GeneratedField(
        expression=_search_vector(), output_field=SearchVectorField(), db_persist=True
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feed", "uid", "recurrence_key"], name="event_feed_uid_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="event_end_after_start"
            ),
        ]
        indexes = [
            # Searches into the past (the archive included).
            GinIndex(fields=["search"], name="event_search_gin"),
            # Searches from today on: the same, without the archive, so a term's posting lists
            # hold this year's events whatever the years kept (docs/scaling.md, B10).
            GinIndex(
                fields=["search"],
                name="event_search_current_gin",
                condition=models.Q(retired_at__isnull=True, archived=False),
            ),
            # Relevance search on a common term ranks the matches nearest in time only
            # (events.selectors.RANKED_MATCHES): this index hands them over in that order
            # (`start <-> t`, btree_gist), skipping past events and non-matches inside the
            # index (tsvector signatures), so a term found in thousands of events costs a few
            # hundred heap rows, not thousands.
            GistIndex(
                "start",
                "end",
                search_lexemes(),
                name="event_start_end_search_gist",
                condition=models.Q(retired_at__isnull=True, archived=False),
            ),
            # What the archive sweep looks for: events not archived, by their end.
            models.Index(
                fields=["end"], name="event_end_unarchived", condition=models.Q(archived=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.start):%Y-%m-%d %H:%M})"

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @property
    def category_label(self) -> str:
        return str(CATEGORY_LABELS.get(self.category, self.category.replace("_", " ").title()))
