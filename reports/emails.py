"""Mails to residents. Only the person who gave an address gets mail; nothing public here."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from reports.models import Report

logger = logging.getLogger(__name__)


def tracking_url(*, report: Report) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("frontend:track", args=[report.tracking_token])


def tracking_email_send(*, report: Report, language: str | None = None) -> bool:
    """Send the secret tracking link to the address the resident gave; False when there is none."""
    if not report.reporter_email:
        return False
    with translation.override(language or settings.LANGUAGE_CODE):
        context = {"report": report, "url": tracking_url(report=report)}
        subject = render_to_string("reports/email/tracking_subject.txt", context).strip()
        body = render_to_string("reports/email/tracking_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [report.reporter_email])
    logger.info("tracking link for report %s mailed", report.pk)
    return True
