from datetime import datetime

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crews.deadlines import late_q
from districts.models import District
from reports.models import Category, Report

# Members of this Django group (and superusers) may use the dispatcher pages and API.
DISPATCHER_GROUP = "dispatchers"


class Crew(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, help_text="where late-ticket notices go")
    depot = models.PointField(srid=4326, null=True, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="crews", blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Responsibility(models.Model):
    """A crew serves a district, for one category or (category empty) for all of them."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="responsibilities")
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "responsibilities"
        constraints = [
            models.UniqueConstraint(
                fields=["crew", "district", "category"], name="responsibility_unique"
            ),
            models.UniqueConstraint(
                fields=["crew", "district"],
                condition=Q(category__isnull=True),
                name="responsibility_unique_all_categories",
            ),
        ]

    def __str__(self) -> str:
        what = self.category.code if self.category_id else "all categories"
        return f"{self.crew} → {self.district} ({what})"


class AssignmentQuerySet(models.QuerySet):
    def open(self) -> "AssignmentQuerySet":
        """Active assignments of reports that are not closed."""
        return self.filter(active=True, report__status__in=Report.OPEN_STATUSES)

    def late(self, *, now: datetime) -> "AssignmentQuerySet":
        return self.open().filter(late_q(now=now))


class Assignment(models.Model):
    """A report handed to a crew. Reassignment ends this row and starts a new one."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="assignments")
    crew = models.ForeignKey(Crew, on_delete=models.PROTECT, related_name="assignments")
    due_at = models.DateTimeField(db_index=True)
    assigned_at = models.DateTimeField(auto_now_add=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    late_flagged_at = models.DateTimeField(null=True, blank=True)
    # Set when the crew and the dispatchers were told this assignment is late (once).
    late_notified_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-assigned_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report"], condition=Q(active=True), name="one_active_assignment_per_report"
            )
        ]

    def __str__(self) -> str:
        return f"report {self.report_id} → {self.crew} (due {self.due_at:%Y-%m-%d %H:%M})"


class UnassignedNotice(models.Model):
    """Dispatchers were told once that this report waited too long without a crew."""

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="+")
    notified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"report {self.report_id} unassigned notice at {self.notified_at:%Y-%m-%d %H:%M}"


class PreventiveTask(models.Model):
    """A recurring round a crew makes at a chronic dirty corner (made from a hotspot)."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="preventive_tasks")
    title = models.CharField(max_length=200)
    location = models.PointField(srid=4326)
    radius_m = models.PositiveIntegerField(default=50)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    district = models.ForeignKey(
        District, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    interval_days = models.PositiveIntegerField(default=7)
    next_due_on = models.DateField()
    last_done_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    report_count = models.PositiveIntegerField(default=0, help_text="reports in the hotspot")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_due_on", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.crew}, every {self.interval_days} days)"


class DayPlan(models.Model):
    """A crew's day plan, computed by a Celery task (`crews.day_plans.day_plan_compute`).

    The web only asks for one and shows it, or its progress; the tour itself (at most
    CREW_PLAN_MAX_TICKETS stops) is in `result`. `queue_signature` says which state of the
    crew's open queue it was planned for, so a closed or new ticket makes it stale.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("planning")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="day_plans")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    queue_signature = models.CharField(max_length=100, blank=True)
    open_count = models.PositiveIntegerField(default=0, help_text="open tickets when planned")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["crew", "-created_at"], name="dayplan_crew_recent")]

    def __str__(self) -> str:
        return f"{self.crew} {self.created_at:%Y-%m-%d %H:%M} ({self.status})"
