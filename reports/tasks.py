from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def report_photo_process_task(photo_id: int) -> bool:
    from reports.services import report_photo_process  # services queue this task

    return report_photo_process(photo_id=photo_id) is not None
