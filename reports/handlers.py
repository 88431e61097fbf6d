"""What the outbox does for reports (`reports.outbox`); imported by `ReportsConfig.ready()`."""

from reports import publish  # noqa: F401  (registers its handler)
from reports.emails import (
    resident_update_send,
    subscribers_update_send,
    subscription_confirm_send,
    tracking_email_send,
)
from reports.models import OutboxItem, Report, ReportEvent, ReportSubscription
from reports.outbox import outbox_handler

TRACKING_MAIL = "report_tracking_mail"
RESIDENT_UPDATE_MAIL = "report_resident_update_mail"
# The same names as in reports.subscriptions (which imports the outbox, not this module).
SUBSCRIPTION_CONFIRM_MAIL = "report_subscription_confirm_mail"
SUBSCRIBER_UPDATE_MAIL = "report_subscriber_update_mail"


@outbox_handler(TRACKING_MAIL, queue="notifications")
def tracking_mail(item: OutboxItem) -> None:
    report = Report.objects.select_related("category").filter(pk=item.report_id).first()
    if report is not None:  # gone, or its contact erased: nothing to send
        tracking_email_send(report=report, language=item.payload.get("language") or report.language)


@outbox_handler(RESIDENT_UPDATE_MAIL, queue="notifications")
def resident_update_mail(item: OutboxItem) -> None:
    event = (
        ReportEvent.objects.select_related("report__category", "report__duplicate_of")
        .filter(pk=item.payload.get("event"))
        .first()
    )
    if event is not None:  # gone with its report: nothing to tell
        resident_update_send(event=event)


@outbox_handler(SUBSCRIPTION_CONFIRM_MAIL, queue="notifications")
def subscription_confirm_mail(item: OutboxItem) -> None:
    subscription = (
        ReportSubscription.objects.select_related("report__category")
        .filter(pk=item.payload.get("subscription"), confirmed_at__isnull=True)
        .first()
    )
    if subscription is not None and subscription.unsubscribed_at is None:
        subscription_confirm_send(subscription=subscription)


@outbox_handler(SUBSCRIBER_UPDATE_MAIL, queue="notifications")
def subscriber_update_mail(item: OutboxItem) -> None:
    event = (
        ReportEvent.objects.select_related("report__category", "report__duplicate_of")
        .filter(pk=item.payload.get("event"))
        .first()
    )
    if event is not None:
        subscribers_update_send(event=event)
