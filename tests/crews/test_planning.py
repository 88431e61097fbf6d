import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point

from crews.planning import (
    HaversineDistance,
    PostGISDistance,
    Ticket,
    member_day_plan,
    plan_route,
)
from crews.services import report_dispatch
from reports.services import report_create

START = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
LAT = 51.05
DEPOT = Point(13.70, LAT, srid=4326)
# One kilometre east-west at this latitude; at 15 km/h that is 4 minutes, plus 10 at a stop.
KM = 1 / (111.195 * 0.62864)


def east(km: float) -> Point:
    return Point(DEPOT.x + km * KM, LAT, srid=4326)


def minutes(n: int) -> datetime:
    return START + timedelta(minutes=n)


def test_urgent_ticket_in_the_other_direction_comes_first_and_no_deadline_is_missed():
    # Without deadlines any order costs 8 km. C (2 km west) is due in 10 min: only reachable
    # first (8 min). A (1 km east) is due in 35 min: C, A, B arrives at A after 30 min, while
    # C, B, A would arrive after 48 min. So the only tour keeping every deadline is C, A, B.
    a = Ticket(key=1, location=east(1), due_at=minutes(35))
    b = Ticket(key=2, location=east(2), due_at=minutes(240))
    c = Ticket(key=3, location=east(-2), due_at=minutes(10))
    plan = plan_route(depot=DEPOT, tickets=[a, b, c], start=START)
    assert [stop.ticket.key for stop in plan.stops] == [3, 1, 2]
    assert plan.late_count == 0
    assert [stop.arrival for stop in plan.stops] == [minutes(8), minutes(30), minutes(44)]
    assert 7900 <= plan.total_metres <= 8100
    assert plan.back_at == minutes(62)
    assert plan.line()[0] == plan.line()[-1] == (DEPOT.y, DEPOT.x)


def test_late_ticket_is_visited_first_even_when_the_other_is_nearer():
    near = Ticket(key=1, location=east(-1), due_at=None)
    overdue = Ticket(key=2, location=east(3), due_at=START - timedelta(days=1))
    plan = plan_route(depot=DEPOT, tickets=[near, overdue], start=START)
    assert [stop.ticket.key for stop in plan.stops] == [2, 1]
    assert plan.stops[0].late and not plan.stops[1].late


def test_every_ticket_is_visited_exactly_once():
    rng = random.Random(7)
    tickets = [
        Ticket(
            key=n,
            location=Point(DEPOT.x + rng.uniform(-0.05, 0.05), LAT + rng.uniform(-0.03, 0.03)),
            due_at=minutes(rng.randint(-600, 3000)) if n % 3 else None,
        )
        for n in range(25)
    ]
    plan = plan_route(depot=DEPOT, tickets=tickets, start=START, time_limit_seconds=1)
    keys = [stop.ticket.key for stop in plan.stops]
    assert sorted(keys) == list(range(25))
    assert [stop.number for stop in plan.stops] == list(range(1, 26))


def test_no_tickets_gives_an_empty_plan():
    plan = plan_route(depot=DEPOT, tickets=[], start=START)
    assert plan.stops == [] and plan.back_at == START


@pytest.mark.django_db
def test_postgis_and_haversine_distances_agree():
    points = [DEPOT, east(1), east(-2), Point(13.75, 51.07, srid=4326)]
    sphere = HaversineDistance().matrix(points)
    spheroid = PostGISDistance().matrix(points)
    for i in range(len(points)):
        assert spheroid[i][i] == 0
        for j in range(len(points)):
            assert spheroid[i][j] == pytest.approx(sphere[i][j], rel=0.006, abs=1)
    assert sphere[0][1] == pytest.approx(1000, abs=2)


@pytest.mark.django_db
def test_member_day_plan_covers_the_members_open_tickets_from_the_crew_depot():
    made = []
    for n in range(3):
        report, _ = report_create(
            category="litter", location=Point(13.7535 + n * 0.004, 51.0655, srid=4326)
        )
        report_dispatch(report=report)
        made.append(report.pk)
    plan, rows = member_day_plan(user=User.objects.get(username="crew-nord"))
    assert sorted(stop.ticket.key for stop in plan.stops) == sorted(made)
    assert set(rows) == set(made)
    assert plan.depot.coords == pytest.approx((13.7537, 51.0777))
    other, _ = member_day_plan(user=User.objects.get(username="crew-mitte"))
    assert other.stops == []
