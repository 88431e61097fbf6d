"""PLAN: a crew's day plan with thousands of open tickets (issue 14).

Seeds one crew ("bench-plan", depot in the Neustadt) with 4,000 open tickets spread over
Dresden (deadlines from two days late to two weeks ahead), then measures:
- the plan page (/crew/plan/) while the plan is being made: what the tablet gets at once;
- the plan itself (`crews.day_plans.day_plan_compute`, what the Celery worker runs): at most
  CREW_PLAN_MAX_TICKETS stops;
- the plan page and /api/v1/crew/plan/ once the plan is done;
- the peak RSS of this process, which did all of the above (so it bounds both the web's and
  the worker's share).

Run alone against any migrated database with the Dresden base data:
    DATABASE_URL=... python -m bench.workloads.plan_bounded [tickets] [--json]
or with the other workloads: python -m bench --only PLAN (which runs it as such a process).
"""

import logging
import random
import resource
import sys
import time
from datetime import timedelta

logger = logging.getLogger("bench")

CREW_CODE = "bench-plan"
TICKETS = 4000


def seed_open_tickets(*, crew_code: str = CREW_CODE, count: int = TICKETS, seed: int = 14):
    """A crew with a depot and one member, and `count` open tickets assigned to it (bulk
    inserts; the reports are not routed one by one). Returns (crew, member)."""
    from django.contrib.auth.models import User
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from crews.models import Assignment, Crew
    from reports.models import Category, Report

    rng = random.Random(seed)
    crew, _ = Crew.objects.get_or_create(
        code=crew_code,
        defaults={"name": "Bench plan crew", "depot": Point(13.7537, 51.0777, srid=4326)},
    )
    member, _ = User.objects.get_or_create(username=f"{crew_code}-member")
    crew.members.add(member)
    have = Assignment.objects.filter(crew=crew, active=True).count()
    if have >= count:
        return crew, member
    category = Category.objects.order_by("code").first()
    now = timezone.now()
    reports = []
    for _ in range(count - have):
        point = Point(rng.uniform(13.65, 13.85), rng.uniform(51.00, 51.10), srid=4326)
        reports.append(
            Report(
                location=point,
                public_location=point,
                category=category,
                status=Report.Status.ASSIGNED,
                due_at=now + timedelta(hours=rng.uniform(-48, 14 * 24)),
            )
        )
    reports = Report.objects.bulk_create(reports, batch_size=1000)
    Assignment.objects.bulk_create(
        [Assignment(report=r, crew=crew, due_at=r.due_at, active=True) for r in reports],
        batch_size=1000,
    )
    return crew, member


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(count: int = TICKETS) -> dict:
    """The figures, with Celery not eager: the page only queues the plan (no worker here)."""
    from django.test import Client
    from django.test.utils import override_settings

    from civicmap.celery import app
    from crews.day_plans import day_plan_compute
    from crews.models import DayPlan

    crew, member = seed_open_tickets(count=count)
    DayPlan.objects.filter(crew=crew).delete()
    client = Client()
    client.force_login(member)
    queued_ids = []
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        # No worker in this process: catch what the page queues instead of sending it.
        from crews import tasks

        original = tasks.day_plan_compute_task.delay
        tasks.day_plan_compute_task.delay = lambda plan_id: queued_ids.append(plan_id)
        with override_settings(ALLOWED_HOSTS=["*"]):
            started = time.perf_counter()
            waiting = client.get("/crew/plan/")
            page_first = time.perf_counter() - started
            assert waiting.status_code == 200, waiting.status_code
            # The tablet looks again every 2 s while the plan is made: a warm process.
            started = time.perf_counter()
            client.get("/crew/plan/")
            page_queued = time.perf_counter() - started
            started = time.perf_counter()
            day_plan_compute(plan_id=queued_ids[-1])
            plan_seconds = time.perf_counter() - started
            started = time.perf_counter()
            done = client.get("/crew/plan/")
            page_done = time.perf_counter() - started
            started = time.perf_counter()
            api = client.get("/api/v1/crew/plan/")
            api_done = time.perf_counter() - started
        tasks.day_plan_compute_task.delay = original
    finally:
        app.conf.task_always_eager = eager
    body = api.json()
    return {
        "open_tickets": count,
        "stops": len(body["stops"]),
        "page_first_request_s": page_first,
        "page_while_planning_s": page_queued,
        "plan_s": plan_seconds,
        "page_done_s": page_done,
        "api_done_s": api_done,
        "peak_rss_mb": _peak_rss_mb(),
        "page_status": done.status_code,
    }


def run(run, config: dict) -> None:
    """In a fresh process (this module's `main`): the peak RSS is then the plan's alone, not
    the bench process's after the workloads run before it."""
    import json
    import subprocess

    from bench import core

    done = subprocess.run(
        [sys.executable, "-m", "bench.workloads.plan_bounded", str(TICKETS), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the plan measurement failed: {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    size = f"{TICKETS:,} open tickets"
    core.limit_row(
        run, "PLAN page (planning)", size, "seconds", figures["page_while_planning_s"], limit=2
    )
    core.limit_row(run, "PLAN page (done)", size, "seconds", figures["page_done_s"], limit=2)
    core.limit_row(run, "PLAN api (done)", size, "seconds", figures["api_done_s"], limit=2)
    core.limit_row(
        run,
        "PLAN compute",
        size,
        "seconds",
        figures["plan_s"],
        limit=60,
        note=f"{figures['stops']} stops",
    )
    core.limit_row(run, "PLAN peak RSS", size, "MB", figures["peak_rss_mb"], limit=300)


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings")
    os.environ.setdefault("DEBUG", "0")
    django.setup()
    from bench import seed

    seed.base_data()
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    count = int(numbers[0]) if numbers else TICKETS
    figures = measure(count)
    if "--json" in sys.argv:
        import json

        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:24} {value:.3f}" if isinstance(value, float) else f"{name:24} {value}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
