"""Day plans computed in the background: the web asks for one (`day_plan_request`) and shows
it; a Celery task computes it (`day_plan_compute`) with the solver of `crews.planning`, storing
its progress on the `DayPlan` row, so a queue of thousands costs the web a few small queries."""

import logging
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from crews.models import Assignment, Crew, DayPlan
from crews.planning import Plan, crew_day_plan, open_assignments, queue_signature

logger = logging.getLogger(__name__)


def plan_as_dict(plan: Plan) -> dict:
    """The tour as JSON for `DayPlan.result` (and the API, which answers it as it is)."""
    return {
        "depot": [plan.depot.y, plan.depot.x],
        "start": plan.start.isoformat(),
        "back_at": plan.back_at.isoformat() if plan.back_at else None,
        "total_metres": plan.total_metres,
        "late_count": plan.late_count,
        "stops": [
            {
                "number": stop.number,
                "id": stop.ticket.key,
                "lat": stop.ticket.location.y,
                "lon": stop.ticket.location.x,
                "due_at": stop.ticket.due_at.isoformat() if stop.ticket.due_at else None,
                "arrival": stop.arrival.isoformat(),
                "late": stop.late,
                "metres_from_previous": stop.metres_from_previous,
            }
            for stop in plan.stops
        ],
    }


def day_plan_current(*, crew: Crew) -> DayPlan | None:
    return DayPlan.objects.filter(crew=crew).order_by("-created_at", "-id").first()


def day_plan_request(
    *, crew: Crew, user: AbstractBaseUser | None = None, replan: bool = False
) -> DayPlan:
    """The crew's current day plan, or a new one queued for the worker.

    A plan is kept while the crew's open queue is unchanged and it is younger than
    CREW_PLAN_FRESH_MINUTES; one that is waiting or running is never queued twice (a lost
    message is queued again after a minute). Never raises because the broker is down: the
    plan then waits, and the next visit queues it again.
    """
    from crews.tasks import day_plan_compute_task  # tasks import this module

    now = timezone.now()
    signature = queue_signature(crew=crew)
    current = day_plan_current(crew=crew)
    if current is not None:
        age = now - current.created_at
        busy = current.status in (DayPlan.Status.QUEUED, DayPlan.Status.RUNNING)
        if busy and current.queue_signature == signature and age < timedelta(minutes=5):
            if current.status == DayPlan.Status.QUEUED and age > timedelta(minutes=1):
                _queue(day_plan_compute_task, current.pk)
            return current
        fresh = age < timedelta(minutes=settings.CREW_PLAN_FRESH_MINUTES)
        if (
            not replan
            and current.status == DayPlan.Status.DONE
            and current.queue_signature == signature
            and fresh
        ):
            return current
    # Yesterday's plans are history nobody reads: keep the table as small as the crews.
    DayPlan.objects.filter(crew=crew, created_at__lt=now - timedelta(days=1)).delete()
    plan = DayPlan.objects.create(
        crew=crew,
        requested_by=user if user is not None and user.is_authenticated else None,
        queue_signature=signature,
    )
    _queue(day_plan_compute_task, plan.pk)
    plan.refresh_from_db()  # a task run eagerly (tests, no worker) has finished it
    return plan


def _queue(task, plan_id: int) -> None:
    try:
        task.delay(plan_id)
    except Exception:  # noqa: BLE001 - a broker outage delays the plan, never fails the page
        logger.exception("day plan %s not queued; the next visit queues it again", plan_id)


def day_plan_compute(*, plan_id: int) -> DayPlan | None:
    """Compute a queued day plan; does nothing for one already done (safe to run twice)."""
    plan = DayPlan.objects.select_related("crew").filter(pk=plan_id).first()
    if plan is None or plan.status == DayPlan.Status.DONE:
        return plan
    started = timezone.now()
    DayPlan.objects.filter(pk=plan.pk).update(
        status=DayPlan.Status.RUNNING, progress=5, started_at=started
    )
    last_write = [0.0]

    def progress(share: float) -> None:
        # At most one small UPDATE a second while the solver runs: 20 % → 95 %.
        if monotonic() - last_write[0] >= 1.0:
            last_write[0] = monotonic()
            DayPlan.objects.filter(pk=plan.pk).update(progress=20 + round(75 * share))

    try:
        if plan.crew.depot is None:
            raise ValueError("crew has no depot")
        tour, _rows = crew_day_plan(crew=plan.crew, start=started, progress=progress)
        open_count = open_assignments(plan.crew).count()
    except Exception as exc:  # noqa: BLE001 - the page shows the failure; the log the cause
        logger.exception("day plan %s failed", plan.pk)
        DayPlan.objects.filter(pk=plan.pk).update(
            status=DayPlan.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        plan.refresh_from_db()
        return plan
    DayPlan.objects.filter(pk=plan.pk).update(
        status=DayPlan.Status.DONE,
        progress=100,
        result=plan_as_dict(tour),
        open_count=open_count,
        finished_at=timezone.now(),
    )
    plan.refresh_from_db()
    return plan


def day_plan_rows(*, plan: DayPlan) -> dict[int, Assignment]:
    """The still-active assignments of a done plan's stops, by report id (for the page)."""
    ids = [stop["id"] for stop in (plan.result or {}).get("stops", [])]
    rows = Assignment.objects.filter(active=True, crew=plan.crew_id, report_id__in=ids)
    return {
        row.report_id: row
        for row in rows.select_related("report", "report__category", "report__district")
    }
