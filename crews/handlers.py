"""What the outbox does for crews (`reports.outbox`); imported by `CrewsConfig.ready()`."""

import logging

from reports.emails import resident_update_send
from reports.models import OutboxItem, Report, ReportEvent
from reports.outbox import outbox_handler

logger = logging.getLogger(__name__)

# Items recorded before every resident mail became `reports.handlers.RESIDENT_UPDATE_MAIL`:
# still carried out, as that mail (in the resident's language).
CLEARED_MAIL = "report_cleared_mail"


@outbox_handler(CLEARED_MAIL, queue="notifications")
def cleared_mail(item: OutboxItem) -> None:
    event = (
        ReportEvent.objects.select_related("report__category")
        .filter(report_id=item.report_id, to_status=Report.Status.CLEARED)
        .order_by("-id")
        .first()
    )
    if event is None or event.report.status != Report.Status.CLEARED:
        return  # reopened meanwhile, or gone: nothing to tell
    resident_update_send(event=event)
