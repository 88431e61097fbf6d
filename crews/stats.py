"""Dispatcher statistics, computed by PostgreSQL (aggregates with FILTER, percentile_cont).

The cohort is the reports *received* in the period (local dates, both ends included) that match
the optional district / category / crew filters. Over that cohort:
- received: all of them; cleared: those now cleared;
- cleared on time: cleared with `closed_at <= due_at` (cleared exactly at the deadline is on
  time, since late means `now > due_at`); share on time = cleared on time / cleared;
- late: cleared after the deadline, or still open with the deadline passed;
- median / p90 time to clear: `closed_at - created_at` of the cleared ones, in hours.
"Currently late" is a now-figure: every open report past its deadline matching the filters,
whenever it was received. The crew of a report is the crew of its active assignment.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from crews.deadlines import late_sql
from reports.models import Report

# --- periods: the presets both faces offer, written once ----------------------------------------

DEFAULT_PERIOD = "last_30"
PERIOD_PRESETS = ("last_month", "this_month", "last_30", "last_365")


def _month_bounds(today: date, months_back: int) -> tuple[date, date]:
    first = today.replace(day=1)
    for _i in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, min(last, today) if months_back == 0 else last


def period_preset(name: str, *, today: date) -> tuple[date, date]:
    """First and last day (local, both included) of a preset period; KeyError if unknown."""
    return {
        "last_month": lambda: _month_bounds(today, 1),
        "this_month": lambda: _month_bounds(today, 0),
        "last_30": lambda: (today - timedelta(days=29), today),
        "last_365": lambda: (today - timedelta(days=364), today),
    }[name]()


@dataclass(frozen=True)
class StatsFilter:
    start: date
    end: date
    district: str | None = None
    category: str | None = None
    crew: str | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        tz = ZoneInfo(settings.TIME_ZONE)
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


def _where(f: StatsFilter, *, with_period: bool = True) -> tuple[str, dict]:
    clauses, params = [], {}
    if with_period:
        start, end = f.bounds()
        clauses.append("r.created_at >= %(start)s AND r.created_at < %(end)s")
        params.update(start=start, end=end)
    if f.district:
        clauses.append("d.code = %(district)s")
        params["district"] = f.district
    if f.category:
        clauses.append("c.code = %(category)s")
        params["category"] = f.category
    if f.crew:
        clauses.append(
            "EXISTS (SELECT 1 FROM crews_assignment a JOIN crews_crew cr ON cr.id = a.crew_id "
            "WHERE a.report_id = r.id AND a.active AND cr.code = %(crew)s)"
        )
        params["crew"] = f.crew
    return (" AND ".join(clauses) or "TRUE"), params


_FROM = """
    FROM reports_report r
    JOIN reports_category c ON c.id = r.category_id
    LEFT JOIN districts_district d ON d.id = r.district_id
"""

_AGGREGATES = f"""
    count(*) AS received,
    count(*) FILTER (WHERE r.status = 'cleared') AS cleared,
    count(*) FILTER (WHERE r.status = 'cleared' AND r.closed_at <= r.due_at) AS cleared_on_time,
    count(*) FILTER (WHERE (r.status = 'cleared' AND r.closed_at > r.due_at)
                        OR (r.status = ANY(%(open)s) AND {late_sql("r.due_at")})) AS late,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.closed_at - r.created_at))
        FILTER (WHERE r.status = 'cleared') / 3600.0 AS median_hours,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.closed_at - r.created_at))
        FILTER (WHERE r.status = 'cleared') / 3600.0 AS p90_hours
"""


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _row(names: list[str], values) -> dict:
    row = dict(zip(names, values, strict=True))
    row["share_on_time"] = _share(row["cleared_on_time"], row["cleared"])
    row["share_late"] = _share(row["late"], row["received"])
    return row


def stats_summary(*, f: StatsFilter, now: datetime) -> dict:
    where, params = _where(f)
    where_now, params_now = _where(f, with_period=False)
    params.update(params_now, now=now, open=list(Report.OPEN_STATUSES))
    sql = f"""
        SELECT {_AGGREGATES},
            (SELECT count(*) {_FROM} WHERE {where_now}
                AND r.status = ANY(%(open)s) AND {late_sql("r.due_at")}) AS currently_late
        {_FROM} WHERE {where}
    """  # noqa: S608 - clauses are constants, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        row = _row(names, cursor.fetchone())
    return row


def stats_by_district(*, f: StatsFilter, now: datetime) -> list[dict]:
    """One row per district (also those with no reports), for the table and the choropleth."""
    where, params = _where(f)
    params.update(now=now, open=list(Report.OPEN_STATUSES))
    sql = f"""
        SELECT dd.code, dd.name, coalesce(s.received, 0), coalesce(s.cleared, 0),
               coalesce(s.cleared_on_time, 0), coalesce(s.late, 0), s.median_hours, s.p90_hours
        FROM districts_district dd
        LEFT JOIN (
            SELECT r.district_id, {_AGGREGATES} {_FROM} WHERE {where} GROUP BY r.district_id
        ) s ON s.district_id = dd.id
        ORDER BY dd.name
    """  # noqa: S608
    names = [
        "code",
        "name",
        "received",
        "cleared",
        "cleared_on_time",
        "late",
        "median_hours",
        "p90_hours",
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_row(names, values) for values in cursor.fetchall()]


def stats_weekly(*, f: StatsFilter, now: datetime) -> list[dict]:
    """Per ISO week (Monday, local time) of the period: received, cleared (by week received),
    cleared on time; weeks without reports are included with zeros."""
    where, params = _where(f)
    params.update(now=now, open=list(Report.OPEN_STATUSES), tz=settings.TIME_ZONE)
    params.update(first=f.start, last=f.end)
    sql = f"""
        WITH weeks AS (
            SELECT generate_series(date_trunc('week', %(first)s::date),
                                   date_trunc('week', %(last)s::date),
                                   interval '1 week')::date AS week
        ), s AS (
            SELECT date_trunc('week', r.created_at AT TIME ZONE %(tz)s)::date AS week,
                   {_AGGREGATES}
            {_FROM} WHERE {where}
            GROUP BY 1
        )
        SELECT w.week, coalesce(s.received, 0), coalesce(s.cleared, 0),
               coalesce(s.cleared_on_time, 0), coalesce(s.late, 0), s.median_hours, s.p90_hours
        FROM weeks w LEFT JOIN s ON s.week = w.week
        ORDER BY w.week
    """  # noqa: S608
    names = [
        "week",
        "received",
        "cleared",
        "cleared_on_time",
        "late",
        "median_hours",
        "p90_hours",
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_row(names, values) for values in cursor.fetchall()]
