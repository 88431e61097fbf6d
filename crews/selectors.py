import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from crews.deadlines import compute_due_at, is_late, late_sql
from crews.models import DISPATCHER_GROUP, Assignment, Crew, PreventiveTask
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


def route_compute(
    *, point: Point, category: Category, now: datetime, district: District | None = None
) -> Route:
    """Where a report at `point` would go and when it would be due, without writing anything.
    `district`: the one already found for the point (a stored report's), not looked up again."""
    district = district or district_for_point(point=point)
    crew = crew_for(district=district, category=category) if district else None
    due_at = compute_due_at(start=now, unit=category.deadline_unit, amount=category.deadline_amount)
    return Route(district=district, crew=crew, due_at=due_at)


def assignment_active(*, report: Report) -> Assignment | None:
    return report.assignments.filter(active=True).select_related("crew").first()


def assignment_history(*, report: Report) -> QuerySet[Assignment]:
    return report.assignments.select_related("crew", "assigned_by").order_by("assigned_at", "id")


def assignments_overdue(*, now: datetime) -> QuerySet[Assignment]:
    return Assignment.objects.late(now=now)


# --- deadline states for dispatchers ----------------------------------------------------------

ON_TIME = "on_time"
DUE_SOON = "due_soon"
LATE = "late"
UNASSIGNED = "unassigned"
DEADLINE_STATES = (UNASSIGNED, LATE, DUE_SOON, ON_TIME)
DUE_SOON_WINDOW = timedelta(hours=24)


def deadline_state(*, due_at: datetime | None, assigned: bool, now: datetime) -> str:
    """Unassigned beats everything; late is strictly after the deadline (`now > due_at`); due
    soon is the deadline within the next 24 hours, both ends included."""
    if not assigned:
        return UNASSIGNED
    if due_at is None:
        return ON_TIME
    if is_late(due_at=due_at, now=now):
        return LATE
    if due_at - now <= DUE_SOON_WINDOW:
        return DUE_SOON
    return ON_TIME


# The same rule in SQL over `r` (reports_report) LEFT JOIN `a` (the active crews_assignment);
# parameters: `now` and `soon` (now + DUE_SOON_WINDOW).
DEADLINE_STATE_SQL = f"""
    CASE WHEN a.id IS NULL THEN 'unassigned'
         WHEN coalesce(a.due_at, r.due_at) IS NULL THEN 'on_time'
         WHEN {late_sql("coalesce(a.due_at, r.due_at)")} THEN 'late'
         WHEN coalesce(a.due_at, r.due_at) <= %(soon)s THEN 'due_soon'
         ELSE 'on_time' END
"""


# A ticket received this recently is "new" on the live map until a dispatcher marked it seen.
NEW_TICKET_WINDOW = timedelta(hours=24)


OPEN_OR_FLAGGED_SQL = """
    r.status = ANY(%(open)s)
    OR EXISTS (SELECT 1 FROM reports_reportflag f
               WHERE f.report_id = r.id AND f.resolved_at IS NULL)
"""


def open_tickets_geojson(
    *, now: datetime, language: str = "de", report_id: int | None = None
) -> dict:
    """Every open report as a GeoJSON feature with its deadline state, built by PostGIS in one
    query; plus the count per state. No reporter contact data. With `report_id`, only that
    report (no feature once it is closed and needs no attention): what the live stream sends
    per change.

    A closed report with an open flag (a crew answered "not found") stays in, with state
    `closed`: the dispatcher still has to decide. `flags` are the kinds of its open flags and
    `new` says it was received within NEW_TICKET_WINDOW and no dispatcher marked it seen."""
    name = "name_en" if language.startswith("en") else "name_de"
    if report_id is not None:
        which = f"r.id = %(report_id)s AND ({OPEN_OR_FLAGGED_SQL})"
    else:
        # Both arms indexable (status; ids of the open flags, fetched first as an array), so
        # the database ORs two index lookups instead of testing every report ever received:
        # the cost follows the open tickets, not the history kept (bench B10).
        which = (
            "(r.status = ANY(%(open)s) OR r.id = ANY(ARRAY(SELECT f.report_id"
            " FROM reports_reportflag f WHERE f.resolved_at IS NULL)))"
        )
    sql = f"""
        WITH t AS (
            SELECT r.id, r.location, r.status, r.priority, r.created_at, r.description,
                   r.confirmations_count, coalesce(a.due_at, r.due_at) AS due_at,
                   c.code AS category, c.{name} AS category_name,
                   d.code AS district, d.name AS district_name,
                   coalesce(nullif(r.address, ''), r.place_name) AS place,
                   cr.code AS crew, cr.name AS crew_name,
                   r.status = ANY(%(open)s) AS is_open,
                   CASE WHEN NOT r.status = ANY(%(open)s) THEN 'closed'
                        ELSE {DEADLINE_STATE_SQL} END AS state,
                   (SELECT array_agg(DISTINCT f.kind ORDER BY f.kind)
                      FROM reports_reportflag f
                     WHERE f.report_id = r.id AND f.resolved_at IS NULL) AS flags,
                   (r.status = ANY(%(open)s) AND r.created_at >= %(new_since)s
                    AND NOT EXISTS (SELECT 1 FROM reports_reportevent e
                                     WHERE e.report_id = r.id
                                       AND e.data @> '{{"action": "seen"}}'::jsonb)) AS is_new
            FROM reports_report r
            JOIN reports_category c ON c.id = r.category_id
            LEFT JOIN districts_district d ON d.id = r.district_id
            LEFT JOIN crews_assignment a ON a.report_id = r.id AND a.active
            LEFT JOIN crews_crew cr ON cr.id = a.crew_id
            WHERE {which}
        )
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature', 'id', t.id,
                'geometry', ST_AsGeoJSON(t.location, 6)::json,
                'properties', json_build_object(
                    'id', t.id, 'state', t.state, 'status', t.status, 'priority', t.priority,
                    'category', t.category, 'category_name', t.category_name,
                    'district', t.district, 'district_name', t.district_name,
                    'place', t.place,
                    'crew', t.crew, 'crew_name', t.crew_name, 'due_at', t.due_at,
                    'created_at', t.created_at, 'confirmations', t.confirmations_count,
                    'open', t.is_open, 'new', t.is_new,
                    'flags', coalesce(to_json(t.flags), '[]'::json),
                    'description', left(t.description, 140))
            ) ORDER BY t.due_at NULLS FIRST, t.id), '[]'::json),
            'counts', json_build_object(
                'unassigned', count(*) FILTER (WHERE t.state = 'unassigned'),
                'late', count(*) FILTER (WHERE t.state = 'late'),
                'due_soon', count(*) FILTER (WHERE t.state = 'due_soon'),
                'on_time', count(*) FILTER (WHERE t.state = 'on_time')),
            'attention', count(*) FILTER (WHERE t.is_new OR t.flags IS NOT NULL),
            'generated_at', %(now)s
        )::text
        FROM t
    """  # noqa: S608 - only constants are formatted in (column name, id filter)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "now": now,
                "soon": now + DUE_SOON_WINDOW,
                "new_since": now - NEW_TICKET_WINDOW,
                "open": list(Report.OPEN_STATUSES),
                "report_id": report_id,
            },
        )
        return json.loads(cursor.fetchone()[0])


def open_ticket_feature(*, report_id: int, now: datetime, language: str = "de") -> dict | None:
    """One ticket as the dispatcher map's feature; None when it is neither open nor flagged."""
    features = open_tickets_geojson(now=now, language=language, report_id=report_id)["features"]
    return features[0] if features else None


def crew_list(*, active_only: bool = True) -> QuerySet[Crew]:
    crews = Crew.objects.order_by("name")
    return crews.filter(active=True) if active_only else crews


def crews_geojson() -> dict:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [crew.depot.x, crew.depot.y]},
            "properties": {"code": crew.code, "name": crew.name},
        }
        for crew in crew_list().exclude(depot__isnull=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def crews_serving(*, report: Report) -> QuerySet[Crew]:
    """Crews that could take this report: those serving its district for its category first."""
    crews = crew_list().annotate(
        serves=Count(
            "responsibilities",
            filter=Q(responsibilities__district_id=report.district_id)
            & (
                Q(responsibilities__category_id=report.category_id)
                | Q(responsibilities__category__isnull=True)
            ),
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
    return crews.order_by("-serves", "open_load", "name")


def is_dispatcher(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=DISPATCHER_GROUP).exists()


def dispatcher_emails() -> list[str]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True, groups__name=DISPATCHER_GROUP)
    return sorted({email for email in users.values_list("email", flat=True) if email})


def preventive_tasks_due(*, crew: Crew | None = None, on: date) -> QuerySet[PreventiveTask]:
    tasks = PreventiveTask.objects.filter(active=True, next_due_on__lte=on).select_related(
        "crew", "category", "district"
    )
    return tasks.filter(crew=crew) if crew is not None else tasks


# --- exports for staff -------------------------------------------------------------------------

# The open-data column set: no reporter contact data, no tracking token, and no free text (a
# description may name people or number plates).
EXPORT_COLUMNS = [
    "id",
    "category",
    "category_name",
    "status",
    "district",
    "district_name",
    "place",
    "lat",
    "lon",
    "created_at",
    "due_at",
    "closed_at",
    "cleared_on_time",
    "crew",
    "priority",
    "confirmations",
]


class _X(Func):
    function = "ST_X"
    output_field = FloatField()


class _Y(Func):
    function = "ST_Y"
    output_field = FloatField()


def tickets_for_export(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    status: list[str] | None = None,
    district: str | None = None,
    category: str | None = None,
    crew: str | None = None,
) -> list[dict]:
    """Filtered reports as rows of EXPORT_COLUMNS (received in [start, end))."""
    reports = Report.objects.all()
    if start is not None:
        reports = reports.filter(created_at__gte=start)
    if end is not None:
        reports = reports.filter(created_at__lt=end)
    if status:
        reports = reports.filter(status__in=status)
    if district:
        reports = reports.filter(district__code=district)
    if category:
        reports = reports.filter(category__code=category)
    active_crew = Assignment.objects.filter(report=OuterRef("pk"), active=True).values(
        "crew__name"
    )[:1]
    if crew:
        reports = reports.filter(assignments__active=True, assignments__crew__code=crew)
    rows = (
        reports.annotate(
            lat=_Y("location"),
            lon=_X("location"),
            crew_name=Subquery(active_crew),
            # The place name comes from the exact point: for a category shown coarsened to the
            # public (sensitive places), the export leaves it out like the exact point.
            place=Case(
                When(category__public_grid_m=0, then=F("place_name")),
                default=Value(""),
                output_field=CharField(),
            ),
            on_time=Case(
                When(status=Report.Status.CLEARED, closed_at__lte=F("due_at"), then=Value(True)),
                When(status=Report.Status.CLEARED, then=Value(False)),
                default=Value(None),
            ),
        )
        .order_by("created_at", "id")
        .values(
            "id",
            "category__code",
            "category__name_de",
            "status",
            "district__code",
            "district__name",
            "place",
            "lat",
            "lon",
            "created_at",
            "due_at",
            "closed_at",
            "on_time",
            "crew_name",
            "priority",
            "confirmations_count",
        )
    )
    renames = {
        "category__code": "category",
        "category__name_de": "category_name",
        "district__code": "district",
        "district__name": "district_name",
        "on_time": "cleared_on_time",
        "crew_name": "crew",
        "confirmations_count": "confirmations",
    }
    return [{renames.get(k, k): v for k, v in row.items()} for row in rows.iterator()]
