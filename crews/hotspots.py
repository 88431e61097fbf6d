"""Chronic dirty corners: places with repeated reports, found by DBSCAN clustering in PostGIS.

Points are clustered in a metric projection (settings.HOTSPOT_SRID, UTM 33N = EPSG:25833 for
Saxony) so the radius is in metres. A cluster needs `min_count` reports, each within `radius_m`
of another member (DBSCAN core points); reports that belong to no cluster are noise.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from core.validation import model_validate
from crews.models import Crew, PreventiveTask
from crews.selectors import crew_for
from districts.selectors import district_for_point
from reports.models import Category

HOTSPOT_PARAMS_INVALID = gettext_lazy("Radius must be 5–2000 m and the minimum count 2–1000.")
HOTSPOT_INTERVAL_INVALID = gettext_lazy("The interval must be 1–365 days.")
HOTSPOT_NO_CREW = gettext_lazy("No crew serves this place; choose one.")


@dataclass(frozen=True)
class Hotspot:
    rank: int
    count: int
    open_count: int
    center: Point
    radius_m: float
    report_ids: list[int]
    category: str | None
    district: str | None
    district_name: str | None
    first_at: datetime
    last_at: datetime


def hotspots_find(
    *,
    start: datetime,
    end: datetime,
    radius_m: float = 50,
    min_count: int = 3,
    category: str | None = None,
    district: str | None = None,
    limit: int = 100,
) -> list[Hotspot]:
    """Clusters of reports received in [start, end), biggest first."""
    if not (5 <= radius_m <= 2000 and 2 <= min_count <= 1000):
        raise ValidationError(HOTSPOT_PARAMS_INVALID)
    clauses = ["r.created_at >= %(start)s", "r.created_at < %(end)s", "r.status <> 'duplicate'"]
    params = {
        "start": start,
        "end": end,
        "eps": float(radius_m),
        "minpoints": int(min_count),
        "srid": settings.HOTSPOT_SRID,
        "limit": limit,
    }
    if category:
        clauses.append("c.code = %(category)s")
        params["category"] = category
    if district:
        clauses.append("d.code = %(district)s")
        params["district"] = district
    sql = f"""
        WITH pts AS (
            SELECT r.id, r.status, r.created_at, c.code AS category, d.code AS district,
                   d.name AS district_name, ST_Transform(r.location, %(srid)s) AS g
            FROM reports_report r
            JOIN reports_category c ON c.id = r.category_id
            LEFT JOIN districts_district d ON d.id = r.district_id
            WHERE {" AND ".join(clauses)}
        ), clustered AS (
            SELECT pts.*, ST_ClusterDBSCAN(g, eps := %(eps)s, minpoints := %(minpoints)s)
                          OVER () AS cid
            FROM pts
        ), cl AS (
            SELECT cid, count(*) AS n,
                   count(*) FILTER (WHERE status IN ('new', 'assigned', 'in_progress')) AS open_n,
                   ST_Centroid(ST_Collect(g)) AS center,
                   array_agg(id ORDER BY created_at, id) AS ids,
                   mode() WITHIN GROUP (ORDER BY category) AS category,
                   mode() WITHIN GROUP (ORDER BY district) AS district,
                   mode() WITHIN GROUP (ORDER BY district_name) AS district_name,
                   min(created_at) AS first_at, max(created_at) AS last_at,
                   array_agg(g) AS geoms
            FROM clustered WHERE cid IS NOT NULL GROUP BY cid
        )
        SELECT n, open_n, ST_AsText(ST_Transform(center, 4326)),
               (SELECT max(ST_Distance(center, x)) FROM unnest(geoms) x),
               ids, category, district, district_name, first_at, last_at
        FROM cl ORDER BY n DESC, last_at DESC LIMIT %(limit)s
    """  # noqa: S608 - clauses are constants, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hotspots = []
    for rank, row in enumerate(rows, start=1):
        n, open_n, wkt, spread, ids, cat, dist, dist_name, first_at, last_at = row
        center = GEOSGeometry(wkt, srid=4326)
        hotspots.append(
            Hotspot(
                rank=rank,
                count=n,
                open_count=open_n,
                center=center,
                radius_m=round(float(spread or 0), 1),
                report_ids=list(ids),
                category=cat,
                district=dist,
                district_name=dist_name,
                first_at=first_at,
                last_at=last_at,
            )
        )
    return hotspots


def hotspot_crew(*, center: Point, category: str | None) -> Crew | None:
    """The crew that would get a report of the hotspot's main category at its centre."""
    district = district_for_point(point=center)
    cat = Category.objects.filter(code=category).first() if category else None
    if district is None or cat is None:
        return None
    return crew_for(district=district, category=cat)


@transaction.atomic
def preventive_task_create(
    *,
    center: Point,
    radius_m: float,
    category: str | None,
    report_count: int,
    actor: AbstractBaseUser | None,
    crew: Crew | None = None,
    interval_days: int = 7,
    first_on: date | None = None,
    title: str = "",
    notes: str = "",
) -> PreventiveTask:
    """Turn a hotspot into a recurring round for the crew responsible there."""
    if not 1 <= interval_days <= 365:
        raise ValidationError(HOTSPOT_INTERVAL_INVALID)
    crew = crew or hotspot_crew(center=center, category=category)
    if crew is None:
        raise ValidationError(HOTSPOT_NO_CREW)
    district = district_for_point(point=center)
    cat = Category.objects.filter(code=category).first() if category else None
    if not title.strip():
        with override(settings.LANGUAGE_CODE):  # the crews' language
            what = cat.name if cat else _("hotspot")
            title = _("Preventive round: %(what)s") % {"what": what}
        title += f" ({district.name})" if district else ""
    task = PreventiveTask(
        crew=crew,
        title=title.strip(),
        location=center,
        radius_m=max(10, round(radius_m)),
        category=cat,
        district=district,
        interval_days=interval_days,
        next_due_on=first_on or timezone.localdate() + timedelta(days=1),
        notes=notes.strip(),
        report_count=report_count,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    model_validate(task)
    task.save()
    return task


@transaction.atomic
def preventive_task_done(*, task: PreventiveTask, now: datetime) -> PreventiveTask:
    """The crew made the round: the next one is due `interval_days` later."""
    task = PreventiveTask.objects.select_for_update().get(pk=task.pk)
    task.last_done_at = now
    task.next_due_on = max(task.next_due_on, now.date()) + timedelta(days=task.interval_days)
    task.save(update_fields=["last_done_at", "next_due_on"])
    return task
