from datetime import datetime, timedelta

from django.contrib.gis.geos import Point
from django.db.models import (
    BigIntegerField,
    Count,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from core.prepared import fetchall_prepared
from districts.geo import degrees_covering_at, distance_to, within_metres
from reports.models import Category, Report, ReportCount, ReportEvent, ReportFlag, ReportPhoto


def category_list(*, active_only: bool = True) -> QuerySet[Category]:
    categories = Category.objects.all()
    return categories.filter(active=True) if active_only else categories


def public_photos() -> QuerySet[ReportPhoto]:
    """Photos the public may see: redacted copy ready, not hidden by staff."""
    return ReportPhoto.objects.filter(state=ReportPhoto.State.READY, hidden_reason="")


def report_list(
    *,
    status: list[str] | None = None,
    category: str | None = None,
    district: str | None = None,
    published_only: bool = True,
) -> QuerySet[Report]:
    """Reports for public lists, with what a list row needs loaded up front.

    Only published reports (not waiting for approval, not hidden by staff) unless
    `published_only=False` (the resident's own tracking page, staff pages). Public output must
    show `public_location` (coarse for sensitive categories) and `public_description`.
    """
    reports = Report.objects.select_related("category", "district").prefetch_related(
        Prefetch(
            "photos",
            queryset=public_photos().filter(kind=ReportPhoto.Kind.BEFORE),
            to_attr="public_photos",
        )
    )
    hidden = (
        ReportPhoto.objects.filter(report=OuterRef("pk"))
        .exclude(hidden_reason="")
        .order_by()
        .values("report")
        .annotate(n=Count("id"))
        .values("n")
    )
    reports = reports.annotate(hidden_photos=Coalesce(Subquery(hidden), 0))
    if published_only:
        reports = reports.published()
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
    """The resident's own report, also while it waits for approval or is hidden."""
    return report_list(published_only=False).filter(tracking_token=token).first()


def report_public_events(*, report: Report) -> QuerySet[ReportEvent]:
    return report.events.filter(public=True).order_by("created_at", "id")


def reports_nearby_open(
    *, point: Point, category: Category | None = None, meters: float = 30
) -> QuerySet[Report]:
    """Open reports within `meters` of a point (spheroid distance, index-assisted), nearest
    first, each with its `distance`.

    The duplicate check on the create path. `open()` repeats the predicate of the partial GiST
    index `report_open_category_location_gist` (reports migration 0003), so the database looks
    only at open reports of the category near the point.
    """
    nearby = (
        within_metres(Report.objects.open(), field="location", point=point, metres=meters)
        .annotate(distance=distance_to("location", point))
        .order_by("distance")
    )
    if category is not None:
        # Typed like the column (bigint): a bare integer literal is an int4, which the index's
        # btree_gist int8 class cannot take, and the planner would then AND in a bitmap of every
        # report of the category.
        nearby = nearby.filter(category_id=Cast(Value(category.pk), BigIntegerField()))
    return nearby.select_related("category", "district")


# The duplicate check as one fixed statement, prepared on the server (core.prepared): the same
# rows in the same order as `reports_nearby_open(...).values_list("id")`, without planning it
# again for every new report. The open statuses are written into the SQL, not bound: a generic
# plan can use the partial index `report_open_category_location_gist` only when its predicate is
# visible. Ties in distance go to the older report.
_DUPLICATES_SQL = """
SELECT r.id
FROM reports_report r, (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom) p
WHERE r.status IN ({open})
  AND r.category_id = %(category)s::bigint
  AND ST_DWithin(r.location, p.geom, %(degrees)s)
  AND ST_DWithin(r.location::geography, p.geom::geography, %(metres)s)
ORDER BY ST_DistanceSpheroid(r.location, p.geom, 'SPHEROID["WGS 84",6378137,298.257223563]'),
         r.id
""".format(open=", ".join(f"'{status}'" for status in Report.OPEN_STATUSES))


def report_duplicate_ids(*, point: Point, category: Category, meters: float = 30) -> list[int]:
    """Ids of the open reports of `category` within `meters` of `point` (spheroid distance),
    nearest first: the duplicate check on the create path, as `reports_nearby_open` answers it,
    in a fraction of the time (benchmark B6)."""
    lon, lat = point.coords
    rows = fetchall_prepared(
        _DUPLICATES_SQL,
        {
            "lon": float(lon),
            "lat": float(lat),
            "category": category.pk,
            "degrees": degrees_covering_at(latitude=lat, metres=meters),
            "metres": float(meters),
        },
    )
    return [row[0] for row in rows]


PUBLIC_MAP_CLEARED_DAYS = 30


def reports_public_map(*, now: datetime, cleared_days: int = PUBLIC_MAP_CLEARED_DAYS):
    """What the public map shows: open reports and those cleared in the last `cleared_days`."""
    since = now - timedelta(days=cleared_days)
    return report_list().filter(
        Q(status__in=Report.OPEN_STATUSES) | Q(status=Report.Status.CLEARED, closed_at__gte=since)
    )


def reports_count(
    *, statuses: list[str] | None = None, moderation: str = Report.Moderation.PUBLISHED
) -> int:
    """How many reports have one of `statuses` (any status by default) and the `moderation`
    state (published by default), exactly, from the counts the database keeps
    (`ReportCount`): a few rows read however many reports are kept."""
    counts = ReportCount.objects.filter(moderation=moderation)
    if statuses is not None:
        counts = counts.filter(status__in=[str(s) for s in statuses])
    return sum(counts.values_list("count", flat=True))


def reports_public_map_count(*, now: datetime, cleared_days: int = PUBLIC_MAP_CLEARED_DAYS) -> int:
    """`reports_public_map(now=now).count()`, exactly, without counting the open reports one by
    one: the open ones from the kept counts, the recently cleared ones from their partial index
    (`report_public_cleared_idx`), a range of the last days however long the history is."""
    since = now - timedelta(days=cleared_days)
    cleared = (
        Report.objects.published()
        .filter(status=Report.Status.CLEARED, closed_at__gte=since)
        .count()
    )
    return reports_count(statuses=list(Report.OPEN_STATUSES)) + cleared


def reports_public_map_rows(*, now: datetime, limit: int = 5000) -> list[dict]:
    """The public map's points in one query: plain values, the first public thumbnail's file name
    and the category and district names, newest first."""
    thumbnail = (
        public_photos()
        .filter(report=OuterRef("pk"), kind=ReportPhoto.Kind.BEFORE)
        .order_by("created_at", "id")
    )
    rows = (
        reports_public_map(now=now)
        .annotate(thumb=Subquery(thumbnail.values("thumbnail")[:1]))
        .order_by("-created_at", "-id")
        .values(
            "id",
            "public_location",
            "status",
            "due_at",
            "created_at",
            "closed_at",
            "thumb",
            "category__code",
            "category__name_de",
            "category__name_en",
            "category__icon",
            "district__name",
        )
    )
    rows = list(rows[:limit])
    for row in rows:
        # Public output: the (possibly coarsened) public point under the usual name.
        row["location"] = row.pop("public_location")
    return rows


def report_tracking_events(*, report: Report) -> QuerySet[ReportEvent]:
    """The history the resident sees on the tracking page: the public events plus their own
    "not fixed" messages."""
    return report.events.filter(Q(public=True) | Q(kind=ReportEvent.Kind.REOPENED)).order_by(
        "created_at", "id"
    )


def report_photos_public(*, report: Report) -> QuerySet[ReportPhoto]:
    """Photos whose redacted, metadata-free public copy is ready and not hidden by staff (never
    the originals)."""
    return public_photos().filter(report=report).order_by("created_at", "id")


def report_photos_own_public(*, report: Report) -> QuerySet[ReportPhoto]:
    """The public photos the resident sent with this report, also after a merge moved them to
    the report it joined (the merge event there lists them)."""
    moved: list[int] = []
    if report.duplicate_of_id:
        for data in ReportEvent.objects.filter(
            report_id=report.duplicate_of_id, data__action="merge", data__merged=report.pk
        ).values_list("data", flat=True):
            moved += [pk for pk in data.get("photos", []) if isinstance(pk, int)]
    own = Q(report=report) | Q(pk__in=moved) if moved else Q(report=report)
    return public_photos().filter(own).order_by("created_at", "id")


def reports_public_points(*, ids: list[int]) -> dict[int, tuple[float, float]]:
    """{id: (lon, lat)} of the public point of those reports that are published (others are
    missing): what an export that may leave the city uses."""
    rows = Report.objects.published().filter(pk__in=ids).values_list("pk", "public_location")
    return {pk: (point.x, point.y) for pk, point in rows}


def report_photos_hidden_count(*, report: Report) -> int:
    """How many photos staff hid ("hidden by the city" on public pages)."""
    return report.photos.exclude(hidden_reason="").count()


def moderation_queue() -> dict:
    """What staff should look at: reports waiting for approval, reports the public flagged, and
    photos whose redaction failed."""
    flagged = ReportFlag.objects.filter(
        kind=ReportFlag.Kind.PUBLIC_FLAG, resolved_at__isnull=True
    ).values("report_id")
    related = ("category", "district")
    return {
        "pending": Report.objects.filter(moderation=Report.Moderation.PENDING)
        .select_related(*related)
        .order_by("created_at", "id"),
        "flagged": Report.objects.filter(pk__in=flagged)
        .select_related(*related)
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=ReportFlag.objects.filter(
                    kind=ReportFlag.Kind.PUBLIC_FLAG, resolved_at__isnull=True
                ),
                to_attr="open_public_flags",
            )
        )
        .order_by("created_at", "id"),
        "photos": ReportPhoto.objects.filter(state=ReportPhoto.State.NEEDS_REVIEW)
        .select_related("report", "report__category")
        .order_by("created_at", "id"),
    }


def personal_data_export(*, email: str) -> dict:
    """Everything stored about one person, found by e-mail address (staff only; GDPR Art. 15).

    Reports they sent with their contact data, the photos' metadata, and the history of each.
    """
    email = email.strip()
    reports = (
        Report.objects.filter(reporter_email__iexact=email)
        .select_related("category", "district")
        .prefetch_related("photos", "events")
        .order_by("created_at", "id")
        if email
        else Report.objects.none()
    )
    items = []
    for report in reports:
        items.append(
            {
                "id": report.pk,
                "created_at": report.created_at.isoformat(),
                "category": report.category.code,
                "status": report.status,
                "closed_at": report.closed_at.isoformat() if report.closed_at else None,
                "description": report.description,
                "address": report.address,
                "location": {"lat": report.location.y, "lon": report.location.x},
                "district": report.district.name if report.district else None,
                "reporter_email": report.reporter_email,
                "reporter_name": report.reporter_name,
                "reporter_phone": report.reporter_phone,
                "source": report.source,
                "attributes": report.attributes,
                "photos": [
                    {
                        "id": photo.pk,
                        "kind": photo.kind,
                        "uploaded_at": photo.created_at.isoformat(),
                        "taken_at": photo.taken_at.isoformat() if photo.taken_at else None,
                        "gps": {"lat": photo.exif_location.y, "lon": photo.exif_location.x}
                        if photo.exif_location
                        else None,
                        "original_kept": bool(photo.original),
                    }
                    for photo in report.photos.all()
                ],
                "history": [
                    {
                        "at": event.created_at.isoformat(),
                        "kind": event.kind,
                        "to_status": event.to_status,
                        "note": event.note,
                    }
                    for event in report.events.all()
                ],
            }
        )
    return {"email": email, "reports": items, "count": len(items)}


def reports_nearby_public(
    *, point: Point, category: Category | None = None, meters: float = 30
) -> QuerySet[Report]:
    """The public form of `reports_nearby_open`: published reports only, each with its distance
    to the public point (coarse for sensitive categories), nearest first."""
    if category is not None:
        nearby_ids = report_duplicate_ids(point=point, category=category, meters=meters)
    else:
        nearby_ids = reports_nearby_open(point=point, meters=meters).values("pk")
    return (
        report_list()
        .filter(pk__in=nearby_ids)
        .annotate(distance=distance_to("public_location", point))
        .order_by("distance")
    )
