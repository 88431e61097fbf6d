"""Retention and the resident's own data: contact erasure and the deletion of photo originals."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from reports.models import (
    Report,
    ReportEvent,
    ReportPhoto,
)
from reports.services.base import (
    event_record,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def report_contact_delete(
    *, report: Report, actor: AbstractBaseUser | None = None, why: str = "resident"
) -> Report:
    """Erase the reporter's e-mail, name and phone (the report itself stays, anonymous)."""
    current = Report.objects.select_for_update().get(pk=report.pk)
    had = [
        name
        for name in ("reporter_email", "reporter_name", "reporter_phone")
        if getattr(current, name)
    ]
    current.reporter_email = current.reporter_name = current.reporter_phone = ""
    current.contact_deleted_at = timezone.now()
    current.save(
        update_fields=[
            "reporter_email",
            "reporter_name",
            "reporter_phone",
            "contact_deleted_at",
            "updated_at",
        ]
    )
    event_record(
        report=current,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        data={"action": "contact_deleted", "why": why, "fields": had},
    )
    return current


def photo_original_delete(*, photo: ReportPhoto) -> bool:
    """Delete the private original of a photo; the redacted public copies stay."""
    name = photo.original.name
    if not name:
        return False
    photo.original.storage.delete(name)
    ReportPhoto.objects.filter(pk=photo.pk).update(original="", original_deleted_at=timezone.now())
    return True


def retention_run(*, now: datetime | None = None) -> dict:
    """Erase contact data and photo originals of reports closed more than RETENTION_DAYS ago.

    Returns and logs what was removed: {"contacts": [report ids], "originals": [photo ids]}.
    Open reports and reports closed more recently are not touched.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    due = Report.objects.closed().filter(closed_at__lte=cutoff)
    removed: dict[str, list[int]] = {"contacts": [], "originals": []}
    with_contact = due.exclude(reporter_email="", reporter_name="", reporter_phone="")
    for report in with_contact.only("pk"):
        report_contact_delete(report=report, why="retention")
        removed["contacts"].append(report.pk)
    photos = ReportPhoto.objects.filter(report__in=due).exclude(original="")
    for photo in photos:
        if photo_original_delete(photo=photo):
            removed["originals"].append(photo.pk)
    logger.info(
        "retention (%s days, closed before %s): contact data removed from reports %s; "
        "photo originals removed: %s",
        settings.RETENTION_DAYS,
        cutoff.isoformat(),
        removed["contacts"] or "none",
        removed["originals"] or "none",
    )
    return removed
