from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import Prefetch, QuerySet

from reports.models import Category, Report, ReportEvent, ReportPhoto


def category_list(*, active_only: bool = True) -> QuerySet[Category]:
    categories = Category.objects.all()
    return categories.filter(active=True) if active_only else categories


def report_list(
    *,
    status: list[str] | None = None,
    category: str | None = None,
    district: str | None = None,
) -> QuerySet[Report]:
    """Reports for public lists, with what a list row needs loaded up front."""
    reports = Report.objects.select_related("category", "district").prefetch_related(
        Prefetch(
            "photos",
            queryset=ReportPhoto.objects.filter(
                state=ReportPhoto.State.READY, kind=ReportPhoto.Kind.BEFORE
            ),
            to_attr="public_photos",
        )
    )
    if status:
        reports = reports.filter(status__in=status)
    if category:
        reports = reports.filter(category__code=category)
    if district:
        reports = reports.filter(district__code=district)
    return reports


def report_get(*, report_id: int) -> Report | None:
    return report_list().filter(pk=report_id).first()


def report_by_token(*, token: str) -> Report | None:
    return report_list().filter(tracking_token=token).first()


def report_public_events(*, report: Report) -> QuerySet[ReportEvent]:
    return report.events.filter(public=True).order_by("created_at", "id")


def reports_nearby_open(
    *, point: Point, category: Category | None = None, meters: float = 30
) -> QuerySet[Report]:
    """Open reports within `meters` of a point (geography distance, index-assisted)."""
    nearby = Report.objects.open().filter(location__dwithin=(point, D(m=meters)))
    if category is not None:
        nearby = nearby.filter(category=category)
    return nearby.select_related("category", "district")
