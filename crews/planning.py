"""Day plan for a crew member: a tour from the depot through their open tickets and back.

Bounded: a day plan takes at most CREW_PLAN_MAX_TICKETS tickets (what a crew can do in a day):
the late and the soon-due first, by deadline, then the nearest to the depot. It is computed by
a Celery task and stored with its progress (`crews.day_plans`).

Solved with Google OR-Tools' vehicle routing with time windows: each ticket's deadline is a
soft upper bound on the arrival time, with a penalty far above any detour, so the tour keeps
every deadline it can and visits late tickets first. Distances come from a replaceable
`DistanceSource`; straight lines (PostGIS or haversine) by default, a road-network matrix later.
"""

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Protocol

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import BooleanField, Case, Count, DateTimeField, F, Max, Value, When
from django.utils import timezone

from crews.models import Assignment, Crew
from crews.queue import member_crews
from districts.geo import distance_to
from reports.models import Report

logger = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8
# Straight lines are shorter than streets; a city van averages about this along them.
DEFAULT_SPEED_KMH = 15.0
DEFAULT_SERVICE_MINUTES = 10
# Per second of arrival after a deadline; far above what any detour costs.
LATENESS_PENALTY = 1000
PLAN_HORIZON = timedelta(days=14)


class DistanceSource(Protocol):
    """Anything that answers a full matrix of metres between points (row = from, col = to)."""

    def matrix(self, points: Sequence[Point]) -> list[list[int]]: ...


class HaversineDistance:
    """Great-circle distances in Python; needs no database."""

    def matrix(self, points: Sequence[Point]) -> list[list[int]]:
        def metres(a: Point, b: Point) -> int:
            lat1, lat2 = math.radians(a.y), math.radians(b.y)
            dlat, dlon = lat2 - lat1, math.radians(b.x - a.x)
            h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
            return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)))

        return [[metres(a, b) for b in points] for a in points]


class PostGISDistance:
    """Geodesic distances on the spheroid, all pairs in one query."""

    def matrix(self, points: Sequence[Point]) -> list[list[int]]:
        n = len(points)
        if n == 0:
            return []
        xs = [p.x for p in points]
        ys = [p.y for p in points]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH p AS (
                  SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326)::geography AS g
                  FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS t(x, y, i)
                )
                SELECT a.i, b.i, ST_Distance(a.g, b.g) FROM p a CROSS JOIN p b
                """,
                [xs, ys],
            )
            rows = cursor.fetchall()
        out = [[0] * n for _ in range(n)]
        for i, j, metres in rows:
            out[i - 1][j - 1] = round(metres)
        return out


@dataclass(frozen=True)
class Ticket:
    """One place to visit: `key` is the caller's id (a report id), `due_at` its deadline."""

    key: int
    location: Point
    due_at: datetime | None


@dataclass(frozen=True)
class Stop:
    number: int
    ticket: Ticket
    arrival: datetime
    metres_from_previous: int

    @property
    def late(self) -> bool:
        return self.ticket.due_at is not None and self.arrival > self.ticket.due_at


@dataclass
class Plan:
    depot: Point
    start: datetime
    stops: list[Stop] = field(default_factory=list)
    total_metres: int = 0
    back_at: datetime | None = None

    @property
    def late_count(self) -> int:
        return sum(1 for stop in self.stops if stop.late)

    def line(self) -> list[tuple[float, float]]:
        """(lat, lon) pairs depot → stops → depot, for a map polyline."""
        points = [self.depot, *(s.ticket.location for s in self.stops), self.depot]
        return [(p.y, p.x) for p in points]


def plan_route(
    *,
    depot: Point,
    tickets: Sequence[Ticket],
    start: datetime,
    distance_source: DistanceSource | None = None,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    service_minutes: int = DEFAULT_SERVICE_MINUTES,
    time_limit_seconds: int = 2,
    progress: Callable[[float], None] | None = None,
) -> Plan:
    """Order `tickets` into one tour from and back to `depot`, visiting each exactly once.

    `progress` is called now and then with the share of the solver's time used (0..1)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    plan = Plan(depot=depot, start=start)
    if not tickets:
        plan.back_at = start
        return plan
    source = distance_source or HaversineDistance()
    points = [depot, *(t.location for t in tickets)]
    metres = source.matrix(points)
    speed = speed_kmh * 1000 / 3600
    service = service_minutes * 60
    n = len(points)
    seconds = [
        [round(metres[i][j] / speed) + (service if i else 0) for j in range(n)] for i in range(n)
    ]

    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)

    def travel(from_index: int, to_index: int) -> int:
        return seconds[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    transit = routing.RegisterTransitCallback(travel)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    horizon = int(PLAN_HORIZON.total_seconds())
    routing.AddDimension(transit, 0, horizon, True, "time")
    time = routing.GetDimensionOrDie("time")
    for node, ticket in enumerate(tickets, start=1):
        if ticket.due_at is None:
            continue
        allowed = max(0, min(horizon, int((ticket.due_at - start).total_seconds())))
        time.SetCumulVarSoftUpperBound(manager.NodeToIndex(node), allowed, LATENESS_PENALTY)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    params.time_limit.seconds = time_limit_seconds
    if progress is not None:
        began = monotonic()

        def report_progress() -> None:
            progress(min(1.0, (monotonic() - began) / max(1, time_limit_seconds)))

        routing.AddAtSolutionCallback(report_progress)
    solution = routing.SolveWithParameters(params)
    if solution is None:  # cannot happen without hard windows; keep the deadline order then
        logger.warning("route solver found no tour; falling back to deadline order")
        order = sorted(range(1, n), key=lambda i: (tickets[i - 1].due_at or start, i))
    else:
        order = []
        index = solution.Value(routing.NextVar(routing.Start(0)))
        while not routing.IsEnd(index):
            order.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))

    clock, previous = 0, 0
    for number, node in enumerate(order, start=1):
        clock += seconds[previous][node]
        plan.stops.append(
            Stop(
                number=number,
                ticket=tickets[node - 1],
                arrival=start + timedelta(seconds=clock),
                metres_from_previous=metres[previous][node],
            )
        )
        plan.total_metres += metres[previous][node]
        previous = node
    clock += seconds[previous][0]
    plan.total_metres += metres[previous][0]
    plan.back_at = start + timedelta(seconds=clock)
    return plan


def open_assignments(crew: Crew):
    return Assignment.objects.filter(
        active=True, crew=crew, crew__active=True, report__status__in=Report.OPEN_STATUSES
    )


def day_tickets(
    *, crew: Crew, now: datetime, limit: int | None = None
) -> tuple[list[Assignment], int]:
    """At most `limit` of the crew's open tickets for one day, and how many are open in all.

    First the late and those due within a day, soonest deadline first; the rest of the day is
    filled with the tickets nearest to the depot. All of it in one query with a LIMIT.
    """
    limit = limit or settings.CREW_PLAN_MAX_TICKETS
    rows = open_assignments(crew)
    open_count = rows.count()
    urgent = Case(
        When(due_at__lte=now + timedelta(days=1), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    soon_due = Case(
        When(due_at__lte=now + timedelta(days=1), then=F("due_at")),
        default=Value(None),
        output_field=DateTimeField(),
    )
    chosen = (
        rows.select_related("report", "report__category", "report__district")
        .annotate(
            urgent=urgent,
            soon_due=soon_due,
            from_depot=distance_to("report__location", crew.depot),
        )
        .order_by("-urgent", F("soon_due").asc(nulls_last=True), "from_depot", "report_id")[:limit]
    )
    return list(chosen), open_count


def queue_signature(*, crew: Crew) -> str:
    """Changes whenever a ticket joins, leaves or changes in the crew's open queue."""
    state = open_assignments(crew).aggregate(
        n=Count("id"), last=Max("id"), changed=Max("report__updated_at"), due=Max("due_at")
    )
    changed = state["changed"].isoformat() if state["changed"] else "-"
    due = state["due"].isoformat() if state["due"] else "-"
    return f"{state['n']}:{state['last'] or 0}:{changed}:{due}"[:100]


def member_day_plan(
    *,
    user: AbstractBaseUser,
    crew: Crew | None = None,
    start: datetime | None = None,
    distance_source: DistanceSource | None = None,
    limit: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Plan | None, dict[int, object]]:
    """A day's tour for the member's crew (default their first with a depot): at most `limit`
    tickets (CREW_PLAN_MAX_TICKETS), chosen by `day_tickets`.

    Returns (plan, assignments by report id); plan is None when no crew with a depot is found.
    """
    start = start or timezone.now()
    crews = member_crews(user=user).exclude(depot__isnull=True)
    crew = crew if crew is not None and crews.filter(pk=crew.pk).exists() else crews.first()
    if crew is None:
        return None, {}
    return crew_day_plan(
        crew=crew, start=start, distance_source=distance_source, limit=limit, progress=progress
    )


def crew_day_plan(
    *,
    crew: Crew,
    start: datetime,
    distance_source: DistanceSource | None = None,
    limit: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Plan, dict[int, Assignment]]:
    rows, _open_count = day_tickets(crew=crew, now=start, limit=limit)
    by_report = {row.report_id: row for row in rows}
    tickets = [Ticket(key=r.report_id, location=r.report.location, due_at=r.due_at) for r in rows]
    plan = plan_route(
        depot=crew.depot,
        tickets=tickets,
        start=start,
        distance_source=distance_source or PostGISDistance(),
        time_limit_seconds=settings.CREW_PLAN_SOLVER_SECONDS,
        progress=progress,
    )
    return plan, by_report
