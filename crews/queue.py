"""Read side of the crew tablet: a member's queue, one ticket, duplicate candidates."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.db.models import (
    BooleanField,
    Case,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from crews.deadlines import late_q
from crews.models import Assignment, Crew
from districts.geo import distance_to, within_metres
from districts.models import Address
from reports.models import Report, ReportEvent, ReportFlag, ReportPhoto


class _WithinDegrees(Func):
    output_field = BooleanField()
    template = "ST_DWithin(%(expressions)s, %(degrees)s)"


class _KnnDistance(Func):
    """PostGIS `<->`: index-assisted nearest-neighbour order."""

    output_field = FloatField()
    arg_joiner = " <-> "
    template = "(%(expressions)s)"


# Roughly 100 m in Dresden: an address further away is no help for finding the place.
NEAREST_STREET_DEGREES = 0.0013


def _nearest_street(location_ref: str) -> Subquery:
    nearest = (
        Address.objects.filter(
            _WithinDegrees(F("location"), OuterRef(location_ref), degrees=NEAREST_STREET_DEGREES)
        )
        .annotate(knn=_KnnDistance(F("location"), OuterRef(location_ref)))
        .order_by("knn")
    )
    return Subquery(nearest.values("street")[:1])


def member_crews(*, user: AbstractBaseUser) -> QuerySet[Crew]:
    if not user.is_authenticated:
        return Crew.objects.none()
    return Crew.objects.filter(members=user, active=True).order_by("code")


def is_crew_member(*, user: AbstractBaseUser) -> bool:
    return member_crews(user=user).exists()


def crew_queue(
    *,
    user: AbstractBaseUser,
    now: datetime,
    crew: str | None = None,
    category: str | None = None,
    status: str | None = None,
    position: Point | None = None,
) -> QuerySet[Assignment]:
    """Open active assignments of the member's crews: late ones first, then by due date.

    Each row carries `is_late`, `nearest_street` (from the address list, for reports without
    an address), and `distance` (a Distance, metres via `.m`) when a position
    is given; the distance is computed by PostGIS on the spheroid.
    """
    if not user.is_authenticated:
        return Assignment.objects.none()
    statuses = [s for s in Report.OPEN_STATUSES if not status or s == status]
    rows = (
        Assignment.objects.filter(
            active=True, crew__members=user, crew__active=True, report__status__in=statuses
        )
        .select_related("crew", "report", "report__category", "report__district")
        .annotate(
            is_late=Case(
                When(late_q(now=now), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            nearest_street=_nearest_street("report__location"),
        )
    )
    if crew:
        rows = rows.filter(crew__code=crew)
    if category:
        rows = rows.filter(report__category__code=category)
    if position is not None:
        rows = rows.annotate(distance=distance_to("report__location", position))
    return rows.order_by("-is_late", "due_at", "report_id")


def crew_ticket_get(*, user: AbstractBaseUser, report_id: int) -> Report | None:
    """A ticket the member may see (its active assignment is with one of their crews)."""
    if not user.is_authenticated:
        return None
    return (
        Report.objects.filter(
            pk=report_id,
            assignments__active=True,
            assignments__crew__members=user,
        )
        .select_related("category", "district", "duplicate_of")
        .prefetch_related(
            Prefetch(
                "photos",
                queryset=ReportPhoto.objects.order_by("created_at", "id"),
                to_attr="all_photos",
            ),
            Prefetch(
                "events",
                queryset=ReportEvent.objects.select_related("actor", "photo").order_by(
                    "created_at", "id"
                ),
                to_attr="history",
            ),
            Prefetch(
                "flags",
                queryset=ReportFlag.objects.filter(resolved_at__isnull=True),
                to_attr="open_flags",
            ),
            Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(active=True).select_related("crew"),
                to_attr="active_assignments",
            ),
        )
        .first()
    )


def duplicate_candidates(*, report: Report, meters: float = 50) -> QuerySet[Report]:
    """Open tickets within `meters` of this one that it may be a duplicate of, nearest first."""
    return (
        within_metres(Report.objects.open(), field="location", point=report.location, metres=meters)
        .exclude(pk=report.pk)
        .exclude(Q(duplicate_of=report))
        .select_related("category")
        .annotate(distance=distance_to("location", report.location))
        .order_by("distance", "id")
    )
