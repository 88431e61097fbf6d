from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point
from django.db.models import Count, Q, QuerySet

from crews.deadlines import compute_due_at
from crews.models import Assignment, Crew
from districts.models import District
from districts.selectors import district_for_point
from reports.models import Category, Report


@dataclass(frozen=True)
class Route:
    district: District | None
    crew: Crew | None
    due_at: datetime


def crew_for(*, district: District, category: Category) -> Crew | None:
    """The crew that should take a new report: a crew named for this category beats one that
    serves the district for all categories; then the fewest open assignments; then the code."""
    candidates = (
        Crew.objects.filter(active=True, responsibilities__district=district)
        .filter(Q(responsibilities__category=category) | Q(responsibilities__category__isnull=True))
        .annotate(
            specific=Count(
                "responsibilities",
                filter=Q(responsibilities__district=district, responsibilities__category=category),
                distinct=True,
            ),
            open_load=Count(
                "assignments",
                filter=Q(
                    assignments__active=True, assignments__report__status__in=Report.OPEN_STATUSES
                ),
                distinct=True,
            ),
        )
        .order_by("-specific", "open_load", "code", "pk")
    )
    return candidates.first()


def route_compute(*, point: Point, category: Category, now: datetime) -> Route:
    """Where a report at `point` would go and when it would be due, without writing anything."""
    district = district_for_point(point=point)
    crew = crew_for(district=district, category=category) if district else None
    due_at = compute_due_at(start=now, unit=category.deadline_unit, amount=category.deadline_amount)
    return Route(district=district, crew=crew, due_at=due_at)


def assignment_active(*, report: Report) -> Assignment | None:
    return report.assignments.filter(active=True).select_related("crew").first()


def assignment_history(*, report: Report) -> QuerySet[Assignment]:
    return report.assignments.select_related("crew", "assigned_by").order_by("assigned_at", "id")


def assignments_overdue(*, now: datetime) -> QuerySet[Assignment]:
    return Assignment.objects.filter(
        active=True, due_at__lt=now, report__status__in=Report.OPEN_STATUSES
    )
