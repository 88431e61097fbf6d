from celery import shared_task


@shared_task(acks_late=True)
def report_photo_process_task(photo_id: int, detect: bool = True) -> bool:
    """Make a photo's public copies. A storage error leaves the photo pending; the sweep queues
    it again (no countdown retries: a message waiting in Redis past the visibility timeout
    would be delivered twice)."""
    from reports.services import report_photo_process  # services queue this task

    return report_photo_process(photo_id=photo_id, detect=detect) is not None


@shared_task(acks_late=True)
def outbox_item_run_task(item_id: int) -> bool:
    """Carry out one outbox item (`reports.outbox`); does nothing when it is done already."""
    from reports.outbox import outbox_run

    return outbox_run(item_id=item_id)


@shared_task(acks_late=True)
def outbox_sweep_task() -> dict:
    """Celery beat, every OUTBOX_SWEEP_SECONDS: send again what a lost message left pending."""
    from reports.outbox import outbox_sweep
    from reports.services import photos_pending_requeue

    return {"outbox": outbox_sweep(), "photos": photos_pending_requeue()}


@shared_task(acks_late=True)
def retention_run_task() -> dict:
    """Celery beat, daily: erase contact data and photo originals that are due."""
    from reports.services import retention_run

    return retention_run()
