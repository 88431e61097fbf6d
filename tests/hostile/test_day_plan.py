"""A crew's day plan is bounded (at most CREW_PLAN_MAX_TICKETS stops, urgent first), made by a
Celery task with progress on the tablet, and the page never waits for it."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bench.workloads.plan_bounded import seed_open_tickets
from crews import tasks
from crews.day_plans import day_plan_compute
from crews.models import Assignment, DayPlan
from crews.planning import day_tickets

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_day(settings):
    settings.CREW_PLAN_MAX_TICKETS = 12
    settings.CREW_PLAN_SOLVER_SECONDS = 1


@pytest.fixture
def crew_and_member():
    return seed_open_tickets(count=150)


@pytest.fixture
def no_worker(monkeypatch):
    """The page queues the plan; no worker runs it until the test says so."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.day_plan_compute_task, "delay", queued.append)
    return queued


def _client(member) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(member)
    return client


def test_a_day_takes_at_most_the_limit_late_and_due_soon_first(crew_and_member):
    crew, _member = crew_and_member
    now = timezone.now()
    late = Assignment.objects.filter(crew=crew).order_by("pk")[:3]
    for row in late:
        Assignment.objects.filter(pk=row.pk).update(due_at=now - timedelta(days=3))
    chosen, open_count = day_tickets(crew=crew, now=now)
    assert len(chosen) == 12 and open_count == 150
    assert {row.pk for row in late} <= {row.pk for row in chosen}
    due_soon = Assignment.objects.filter(crew=crew, due_at__lte=now + timedelta(days=1)).count()
    urgent_chosen = [row for row in chosen if row.due_at <= now + timedelta(days=1)]
    assert len(urgent_chosen) == min(12, due_soon)


def test_the_api_answers_202_with_progress_then_the_plan(crew_and_member, no_worker):
    crew, member = crew_and_member
    client = _client(member)
    client.get("/api/v1/categories/")  # a warm process: the first request imports the views
    started = time.perf_counter()
    waiting = client.get("/api/v1/crew/plan/")
    assert time.perf_counter() - started < 2
    assert waiting.status_code == 202 and waiting["Retry-After"] == "2"
    assert waiting.json()["status"] == "queued" and waiting.json()["progress"] == 0
    assert len(no_worker) == 1
    # Asked again while it waits: the same plan, not a second one.
    assert client.get("/api/v1/crew/plan/").status_code == 202 and len(no_worker) == 1

    day_plan_compute(plan_id=no_worker[0])
    done = client.get("/api/v1/crew/plan/")
    body = done.json()
    assert done.status_code == 200 and body["status"] == "done" and body["progress"] == 100
    assert len(body["stops"]) == 12 and body["open_tickets"] == 150
    assert body["max_tickets"] == 12
    assert sorted(stop["number"] for stop in body["stops"]) == list(range(1, 13))


def test_the_tablet_page_shows_progress_and_looks_again(crew_and_member, no_worker):
    crew, member = crew_and_member
    client = _client(member)
    page = client.get("/crew/plan/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in html
    assert 'id="plan-progress"' in html and "Planning your route" in html
    DayPlan.objects.filter(pk=no_worker[0]).update(status=DayPlan.Status.RUNNING, progress=60)
    assert 'value="60"' in client.get("/crew/plan/").content.decode()

    day_plan_compute(plan_id=no_worker[0])
    done = client.get("/crew/plan/").content.decode()
    assert 'http-equiv="refresh"' not in done
    assert done.count('class="ticket-row') == 12
    assert "138 more open tickets wait for another day" in done


def test_a_closed_ticket_makes_the_plan_stale(crew_and_member, no_worker):
    crew, member = crew_and_member
    client = _client(member)
    client.get("/api/v1/crew/plan/")
    day_plan_compute(plan_id=no_worker[0])
    first = client.get("/api/v1/crew/plan/").json()
    assert first["status"] == "done"
    # Unchanged queue: the same plan is shown again, nothing new is queued.
    assert len(no_worker) == 1
    from reports.models import Report

    Report.objects.filter(pk=first["stops"][0]["id"]).update(status=Report.Status.CLEARED)
    again = client.get("/api/v1/crew/plan/")
    assert again.status_code == 202 and len(no_worker) == 2


def test_a_broker_outage_never_fails_the_page(crew_and_member, monkeypatch):
    crew, member = crew_and_member

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.day_plan_compute_task, "delay", broker_down)
    client = _client(member)
    assert client.get("/crew/plan/").status_code == 200
    assert client.get("/api/v1/crew/plan/").status_code == 202


def test_running_the_task_twice_does_no_harm(crew_and_member, no_worker):
    crew, member = crew_and_member
    _client(member).get("/api/v1/crew/plan/")
    first = day_plan_compute(plan_id=no_worker[0])
    again = day_plan_compute(plan_id=no_worker[0])
    assert first.status == again.status == DayPlan.Status.DONE
    assert again.result == first.result and DayPlan.objects.count() == 1
