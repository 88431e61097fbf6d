from celery import shared_task
from django.utils import timezone


@shared_task
def assignments_flag_overdue_task() -> int:
    from crews.services import assignments_flag_overdue  # services queue tasks; avoid the cycle

    return assignments_flag_overdue(now=timezone.now())
