"""Mails to residents. Only the person who gave an address gets mail; nothing public here."""

import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from reports import wording
from reports.models import Report, ReportEvent

logger = logging.getLogger(__name__)


def tracking_url(*, report: Report) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("frontend:track", args=[report.tracking_token])


def tracking_email_send(*, report: Report, language: str | None = None) -> bool:
    """Send the secret tracking link to the address the resident gave; False when there is none."""
    if not report.reporter_email:
        return False
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        timezone.override(ZoneInfo(settings.TIME_ZONE)),
    ):
        context = {"report": report, "url": tracking_url(report=report)}
        subject = render_to_string("reports/email/tracking_subject.txt", context).strip()
        body = render_to_string("reports/email/tracking_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [report.reporter_email])
    logger.info("tracking link for report %s mailed", report.pk)
    return True


# What the resident hears about (besides the receipt): a change of `what` for each event.
UPDATE_STATUSES = {
    Report.Status.CLEARED: "cleared",
    Report.Status.REJECTED: "rejected",
    Report.Status.DUPLICATE: "duplicate",
}


def update_kind(event: ReportEvent) -> str | None:
    """Which resident mail an event calls for, or None. Routing a new report to its crew
    (no actor) is told in the receipt; a dispatcher's assignment later gets its own mail."""
    if event.kind == ReportEvent.Kind.REOPENED:
        return "reopened"
    if event.kind == ReportEvent.Kind.STATUS:
        return UPDATE_STATUSES.get(event.to_status)
    if event.kind == ReportEvent.Kind.ASSIGNED and event.actor_id is not None:
        return "assigned"
    return None


def public_url(*, report: Report) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("frontend:report-detail", args=[report.pk])


def update_message(
    *, event: ReportEvent, to: str, language: str, unsubscribe_url: str = ""
) -> EmailMessage | None:
    """The mail telling `to` about `event`, in `language`, with times in the city's zone."""
    what = update_kind(event)
    if what is None:
        return None
    report = event.report
    kept = report.duplicate_of if what == "duplicate" else None
    with translation.override(language), timezone.override(ZoneInfo(settings.TIME_ZONE)):
        context = {
            "report": report,
            "event": event,
            "what": what,
            "status": wording.status_name(event.to_status or report.status),
            "note": wording.event_note(event) if what == "rejected" else "",
            "url": tracking_url(report=report)
            if not unsubscribe_url
            else public_url(report=report),
            "kept_url": public_url(report=kept) if kept is not None and kept.is_published else "",
            "unsubscribe_url": unsubscribe_url,
            "follower": bool(unsubscribe_url),
        }
        subject = render_to_string("reports/email/update_subject.txt", context).strip()
        body = render_to_string("reports/email/update_body.txt", context)
    headers = {}
    if unsubscribe_url:
        # One-click unsubscribe (RFC 8058): mail clients offer it next to the sender.
        headers = {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to], headers=headers)


def resident_update_send(*, event: ReportEvent) -> bool:
    """Tell the resident who made the report about `event`, in the language they reported in."""
    report = event.report
    if not report.reporter_email:
        return False
    message = update_message(
        event=event,
        to=report.reporter_email,
        language=report.language or settings.LANGUAGE_CODE,
    )
    if message is None:
        return False
    message.send()
    logger.info("report %s: resident told of event %s", report.pk, event.pk)
    return True


def subscription_confirm_send(*, subscription) -> None:
    """The double opt-in mail: nothing else goes to the address before it confirmed."""
    report = subscription.report
    with translation.override(subscription.language or settings.LANGUAGE_CODE):
        context = {
            "report": report,
            "confirm_url": settings.SITE_URL.rstrip("/")
            + reverse("frontend:subscription-confirm", args=[subscription.token]),
            "report_url": public_url(report=report),
        }
        subject = render_to_string("reports/email/subscribe_subject.txt", context).strip()
        body = render_to_string("reports/email/subscribe_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [subscription.email])


def subscribers_update_send(*, event: ReportEvent) -> int:
    """Tell every confirmed follower of the report about `event`, each with their own
    one-click unsubscribe link (also as List-Unsubscribe). Returns how many were sent."""
    from reports.models import ReportSubscription

    sent = 0
    for subscription in ReportSubscription.objects.filter(
        report=event.report, confirmed_at__isnull=False, unsubscribed_at__isnull=True
    ):
        unsubscribe = settings.SITE_URL.rstrip("/") + reverse(
            "frontend:subscription-cancel", args=[subscription.token]
        )
        message = update_message(
            event=event,
            to=subscription.email,
            language=subscription.language or settings.LANGUAGE_CODE,
            unsubscribe_url=unsubscribe,
        )
        if message is not None:
            message.send()
            sent += 1
    return sent
