from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def report_photo_process_task(photo_id: int, detect: bool = True) -> bool:
    from reports.services import report_photo_process  # services queue this task

    return report_photo_process(photo_id=photo_id, detect=detect) is not None


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def report_tracking_email_task(report_id: int, language: str | None = None) -> bool:
    from reports.emails import tracking_email_send
    from reports.models import Report

    report = Report.objects.select_related("category").filter(pk=report_id).first()
    return report is not None and tracking_email_send(report=report, language=language)


@shared_task(acks_late=True)
def retention_run_task() -> dict:
    """Celery beat, daily: erase contact data and photo originals that are due."""
    from reports.services import retention_run

    return retention_run()
