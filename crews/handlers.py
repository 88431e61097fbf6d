"""What the outbox does for crews (`reports.outbox`); imported by `CrewsConfig.ready()`."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from reports.models import OutboxItem, Report
from reports.outbox import outbox_handler

logger = logging.getLogger(__name__)

CLEARED_MAIL = "report_cleared_mail"


@outbox_handler(CLEARED_MAIL, queue="notifications")
def cleared_mail(item: OutboxItem) -> None:
    from crews.actions import CLEARED_MAIL_BODY, CLEARED_MAIL_SUBJECT

    report = Report.objects.select_related("category").filter(pk=item.report_id).first()
    if report is None or not report.reporter_email or report.status != Report.Status.CLEARED:
        return  # reopened meanwhile, or the contact erased: nothing to tell
    send_mail(
        CLEARED_MAIL_SUBJECT.format(id=report.pk),
        CLEARED_MAIL_BODY.format(
            category=report.category.name,
            id=report.pk,
            when=timezone.localtime(report.closed_at),
        ),
        settings.DEFAULT_FROM_EMAIL,
        [report.reporter_email],
    )
    logger.info("cleared mail for report %s sent", report.pk)
