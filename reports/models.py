import secrets

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from districts.models import District


def _private_storage():
    from core.storage import private_storage

    return private_storage


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)


def _tile_grid(function: str, output_field: models.Field) -> models.GeneratedField:
    """A column the database computes from `public_location` with one of the tile grid
    functions of migration 0012."""
    return models.GeneratedField(
        expression=models.Func(
            models.F("public_location"), function=function, output_field=output_field
        ),
        output_field=output_field,
        db_persist=True,
    )


class Category(models.Model):
    class DeadlineUnit(models.TextChoices):
        WORKING_DAYS = "working_days", _("working days")
        HOURS = "hours", _("hours")

    class Moderation(models.TextChoices):
        IMMEDIATE = "immediate", _("publish immediately")
        APPROVAL = "approval", _("publish after staff approval")

    code = models.SlugField(max_length=64, unique=True)
    name_de = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    description_de = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    icon = models.CharField(max_length=32, blank=True, help_text="an emoji or icon name")
    group = models.CharField(max_length=100, blank=True)
    keywords = models.CharField(max_length=300, blank=True, help_text="comma-separated")
    deadline_unit = models.CharField(
        max_length=20, choices=DeadlineUnit.choices, default=DeadlineUnit.WORKING_DAYS
    )
    deadline_amount = models.PositiveIntegerField(default=3)
    photo_required = models.BooleanField(default=False)
    # Extra questions (Open311 service definition attributes): a list of
    # {"code", "description", "datatype", "required", "values": [{"key", "name"}]}.
    attributes = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    # Pre-moderation: publish a new report at once, or only after staff approved it.
    moderation = models.CharField(
        max_length=20, choices=Moderation.choices, default=Moderation.IMMEDIATE
    )
    # Sensitive places (needles, shelters, ...): the public sees only the centre of a grid cell
    # of this size in metres; 0 means the exact point. Crews and dispatchers see the exact point.
    public_grid_m = models.PositiveIntegerField(
        default=0, help_text="coarsen the public location to a grid of this many metres; 0: exact"
    )

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "de").startswith("en") else self.name_de

    @property
    def description(self) -> str:
        english = (get_language() or "de").startswith("en")
        return (self.description_en if english else self.description_de) or ""


class ReportQuerySet(models.QuerySet):
    def open(self) -> "ReportQuerySet":
        return self.filter(status__in=Report.OPEN_STATUSES)

    def closed(self) -> "ReportQuerySet":
        return self.exclude(status__in=Report.OPEN_STATUSES)

    def published(self) -> "ReportQuerySet":
        """What the public may see at all (pre-moderated reports wait for approval)."""
        return self.filter(moderation=Report.Moderation.PUBLISHED)


class Report(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("new")
        ASSIGNED = "assigned", _("assigned")
        IN_PROGRESS = "in_progress", _("in progress")
        CLEARED = "cleared", _("cleared")
        REJECTED = "rejected", _("rejected")
        DUPLICATE = "duplicate", _("duplicate")

    class Source(models.TextChoices):
        APP = "app", _("app")
        OPEN311 = "open311", "Open311"
        STAFF = "staff", _("staff")

    class Moderation(models.TextChoices):
        PUBLISHED = "published", _("published")
        PENDING = "pending", _("waiting for approval")
        HIDDEN = "hidden", _("hidden by the city")

    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)

    # The exact point: crews, dispatchers and routing use it; never in public output for a
    # category with a coarse public grid.
    location = models.PointField(srid=4326, spatial_index=True)
    # What every public output shows: the exact point, or the centre of the category's grid cell.
    # Computed when the report is stored (see `reports.services.public_point`).
    public_location = models.PointField(srid=4326, spatial_index=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="reports")
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="reports", null=True, blank=True
    )
    description = models.TextField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    zipcode = models.CharField(max_length=10, blank=True)
    # What to call the place for people ("Alaunstraße 36", else the street, else the district),
    # computed when the report is stored (`districts.selectors.place_for_point`), so lists and
    # exports read a column instead of looking it up per row.
    place_name = models.CharField(max_length=200, blank=True)
    # The language the resident reported in: every mail to them is written in it.
    language = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    # The clearance deadline computed once at routing time (also kept on the assignment).
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    priority = models.PositiveSmallIntegerField(default=0)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    confirmations_count = models.PositiveIntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.APP)
    # Private: never in public output.
    reporter_email = models.EmailField(blank=True)
    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_phone = models.CharField(max_length=50, blank=True)
    tracking_token = models.CharField(max_length=64, unique=True, default=new_tracking_token)
    # When the contact data above was erased (retention or the resident's own wish).
    contact_deleted_at = models.DateTimeField(null=True, blank=True)
    # Moderation: pending (category needs approval), published, or hidden by staff.
    moderation = models.CharField(
        max_length=20, choices=Moderation.choices, default=Moderation.PUBLISHED, db_index=True
    )
    moderation_reason = models.CharField(max_length=300, blank=True)
    # Staff hid the description; the public sees "hidden by the city" instead.
    description_hidden_reason = models.CharField(max_length=300, blank=True)
    # Bumped on every change; lets a client say "I saw version n" (optimistic locking).
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Where the public point lies on the zoom-31 tile grid, and its Morton key: computed by the
    # database (reports migration 0012), read by the vector tile queries (core.mvt).
    tile_x = _tile_grid("civicmap_tile_x", models.IntegerField())
    tile_y = _tile_grid("civicmap_tile_y", models.IntegerField())
    tile_key = _tile_grid("civicmap_tile_key", models.BigIntegerField())

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="report_status_due_idx"),
            # The public map's "cleared in the last days" (`reports_public_map`): a range of
            # recent closings, not every cleared report ever kept.
            models.Index(
                fields=["closed_at"],
                name="report_public_cleared_idx",
                condition=models.Q(moderation="published", status="cleared"),
            ),
            # The reports tile layer reads every tile from this index alone (core.mvt).
            models.Index(
                fields=["tile_key"],
                include=["id", "status", "category", "closed_at", "tile_x", "tile_y"],
                condition=models.Q(moderation="published"),
                name="report_tile_key_published",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category_id and self.category.code} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_published(self) -> bool:
        return self.moderation == self.Moderation.PUBLISHED

    @property
    def place(self) -> str:
        """What to call the place: the address the resident typed, else the computed name
        (nearest address, street or district)."""
        return self.address or self.place_name

    @property
    def public_place(self) -> str:
        """The place for the public: none from the exact point when the category shows the
        public only a coarse grid cell (sensitive places)."""
        if self.category_id and self.category.public_grid_m:
            return ""
        return self.place

    @property
    def public_description(self) -> str:
        return "" if self.description_hidden_reason else self.description

    def save(self, *args, **kwargs) -> None:
        if self.public_location is None and self.location is not None:
            from reports.geo import public_point  # no query: plain coordinate arithmetic

            self.public_location = public_point(
                point=self.location, grid_m=self.category.public_grid_m if self.category_id else 0
            )
        super().save(*args, **kwargs)


class ReportCount(models.Model):
    """How many reports there are per status and moderation state.

    Kept by statement triggers on `reports_report` (migration 0010) in the same transaction as
    every insert, update, delete and truncate, whatever wrote the rows (a service, a
    `QuerySet.update`, a bulk load), so "how many published reports" reads a few rows instead of
    counting millions. Read it through `reports.selectors.reports_count`."""

    status = models.CharField(max_length=20)
    moderation = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status", "moderation"], name="reportcount_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.status}/{self.moderation}: {self.count}"


class ReportPhoto(models.Model):
    class Kind(models.TextChoices):
        BEFORE = "before", _("before")
        AFTER = "after", _("after")

    class State(models.TextChoices):
        PENDING = "pending", _("processing")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")
        # Redaction failed: never published until staff looked at the blur boxes.
        NEEDS_REVIEW = "needs_review", _("needs review")

    class BoxSource(models.TextChoices):
        AUTO = "auto", _("found automatically")
        STAFF = "staff", _("set by staff")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BEFORE)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    # Emptied by the retention task some time after the report is closed.
    original = models.FileField(upload_to="originals/%Y/%m/", storage=_private_storage, blank=True)
    original_deleted_at = models.DateTimeField(null=True, blank=True)
    public_image = models.ImageField(upload_to="photos/%Y/%m/", blank=True)
    thumbnail = models.ImageField(upload_to="thumbs/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    exif_location = models.PointField(srid=4326, null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Areas blurred in every public copy: [{"x", "y", "w", "h" (fractions 0..1 of the upright
    # image), "source": "auto"|"staff", "label": "face"|"plate"|""}].
    blur_boxes = models.JSONField(default=list, blank=True)
    # None until the detector ran; staff review sets it too.
    redacted_at = models.DateTimeField(null=True, blank=True)
    redaction_error = models.TextField(blank=True)
    # Staff hid the photo; the public sees "hidden by the city" instead.
    hidden_reason = models.CharField(max_length=300, blank=True)
    # When processing was last asked for: a photo still pending long after it is queued again by
    # the sweep (`reports.services.photos_pending_requeue`).
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["queued_at"],
                name="photo_pending_idx",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} photo of report {self.report_id}"

    @property
    def is_public(self) -> bool:
        return self.state == self.State.READY and not self.hidden_reason


class ReportEvent(models.Model):
    """Audit trail: one row per change of a report."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        STATUS = "status", _("status changed")
        ASSIGNED = "assigned", _("assigned")
        REASSIGNED = "reassigned", _("reassigned")
        UNASSIGNED = "unassigned", _("left unassigned")
        PHOTO = "photo", _("photo added")
        CONFIRMED = "confirmed", _("confirmed by a resident")
        NOTE = "note", _("note")
        REOPENED = "reopened", _("reopened")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    public = models.BooleanField(default=True, help_text="shown on public pages and Open311")
    photo = models.ForeignKey(ReportPhoto, on_delete=models.SET_NULL, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on report {self.report_id} at {self.created_at:%Y-%m-%d %H:%M}"


class IdempotencyKey(models.Model):
    """Remembers what a client's Idempotency-Key did, so a retry returns it instead of redoing.

    `scope` says which kind of request used the key ("report_create", "report_transition",
    ...); `response` may hold what the first request answered, for replaying it.
    """

    key = models.CharField(max_length=200)
    scope = models.CharField(max_length=50, default="report_create")
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class ReportFlag(models.Model):
    """Something a dispatcher should look at, with the reason (implausible photo, probably a
    booked pickup, flagged by the public, ...). Resolved flags stay as history."""

    class Kind(models.TextChoices):
        PHOTO_LOCATION = "photo_location", _("photo taken far from the pin")
        PHOTO_AGE = "photo_age", _("photo older than the report")
        AFTER_PHOTO = "after_photo", _("implausible after-photo")
        BOOKED_PICKUP = "booked_pickup", _("probably a booked bulky-waste pickup")
        REOPENED = "reopened", _("reopened by the resident")
        PUBLIC_FLAG = "public_flag", _("flagged as inappropriate")
        PHOTO_MISSING = "photo_missing", _("photo missing (only a link was sent)")
        CREW_ANSWER = "crew_answer", _("crew answered: not found or not ours")
        OTHER = "other", _("other")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    reason = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["report", "resolved_at"], name="reportflag_open_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on report {self.report_id}"


# Models of what follows a report live beside it; imported here so that Django (and every
# `from reports.models import ...`) finds them.
from reports.models_followups import (  # noqa: E402
    OutboxItem,
    ReportConfirmation,
    ReportSubscription,
)

__all__ = [
    "Category",
    "IdempotencyKey",
    "OutboxItem",
    "Report",
    "ReportConfirmation",
    "ReportCount",
    "ReportEvent",
    "ReportFlag",
    "ReportPhoto",
    "ReportSubscription",
    "new_tracking_token",
]
