from celery import shared_task
from django.utils import timezone


@shared_task
def escalation_run_task() -> dict:
    from crews.escalation import escalation_run

    result = escalation_run(now=timezone.now())
    return {"late": result.late, "unassigned": result.unassigned, "emails": result.emails}
