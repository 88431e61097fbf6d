from celery import shared_task
from django.utils import timezone


@shared_task
def escalation_run_task() -> dict:
    from crews.escalation import escalation_run

    result = escalation_run(now=timezone.now())
    return {"late": result.late, "unassigned": result.unassigned, "emails": result.emails}


@shared_task(acks_late=True)
def day_plan_compute_task(plan_id: int) -> None:
    from crews.day_plans import day_plan_compute  # day_plans queues this task

    day_plan_compute(plan_id=plan_id)
