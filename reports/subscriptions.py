"""Residents who follow a public report: "I see it too" (one per browser and network address)
and "tell me when it changes" (e-mail with double opt-in, one-click unsubscribe), as
FixMyStreet does. Write entry points; the mails are outbox work (`reports.handlers`)."""

import hashlib
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import Report, ReportConfirmation, ReportSubscription
from reports.outbox import outbox_enqueue

SUBSCRIPTION_CONFIRM_MAIL = "report_subscription_confirm_mail"
SUBSCRIBER_UPDATE_MAIL = "report_subscriber_update_mail"

# A second request for the same address within this time sends no second confirmation mail
# (someone pressing the button twice, or using the form to flood a stranger's inbox).
CONFIRM_MAIL_PAUSE = timedelta(minutes=10)

SUBSCRIBE_EMAIL_INVALID = _("Please enter a valid e-mail address.")
SUBSCRIBE_NOT_PUBLIC = _("This report is not public.")
CONFIRM_NOT_OPEN = _("Only an open report can be confirmed.")


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def report_confirm_once(*, report: Report, browser: str, address: str) -> tuple[Report, bool]:
    """'I see it too', counted once per browser (its cookie) and once per network address.
    Returns (report, counted)."""
    from reports.services import report_confirm  # services import this module's neighbours

    current = Report.objects.select_for_update().get(pk=report.pk)
    if not current.is_open or not current.is_published:
        raise ValidationError(CONFIRM_NOT_OPEN)
    keys = {_key(f"browser:{browser}") if browser else None, _key(f"ip:{address}")} - {None}
    if ReportConfirmation.objects.filter(report=current, key__in=keys).exists():
        return current, False
    try:
        with transaction.atomic():
            ReportConfirmation.objects.bulk_create(
                [ReportConfirmation(report=current, key=key) for key in sorted(keys)]
            )
    except IntegrityError:
        return current, False
    return report_confirm(report=current), True


@transaction.atomic
def subscription_request(*, report: Report, email: str, language: str) -> ReportSubscription:
    """Ask to follow `report`: a confirmation mail goes to `email` (nothing is sent to it
    before the address confirmed). Says nothing about whether the address already follows."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": [SUBSCRIBE_EMAIL_INVALID]}) from exc
    if not report.is_published:
        raise ValidationError(SUBSCRIBE_NOT_PUBLIC)
    now = timezone.now()
    subscription, created = ReportSubscription.objects.select_for_update().get_or_create(
        report=report, email=email, defaults={"language": language}
    )
    if not created:
        if subscription.active:
            return subscription
        if subscription.requested_at > now - CONFIRM_MAIL_PAUSE and (
            subscription.unsubscribed_at is None
        ):
            return subscription
        subscription.requested_at = now
        subscription.language = language
        subscription.confirmed_at = None
        subscription.unsubscribed_at = None
        subscription.save(
            update_fields=["requested_at", "language", "confirmed_at", "unsubscribed_at"]
        )
    outbox_enqueue(
        kind=SUBSCRIPTION_CONFIRM_MAIL, report=report, payload={"subscription": subscription.pk}
    )
    return subscription


@transaction.atomic
def subscription_confirm(*, token: str) -> ReportSubscription | None:
    subscription = ReportSubscription.objects.select_for_update().filter(token=token).first()
    if subscription is None or subscription.unsubscribed_at is not None:
        return subscription
    if subscription.confirmed_at is None:
        subscription.confirmed_at = timezone.now()
        subscription.save(update_fields=["confirmed_at"])
    return subscription


@transaction.atomic
def subscription_cancel(*, token: str) -> ReportSubscription | None:
    """One click, no questions: the address gets no more mails about this report."""
    subscription = ReportSubscription.objects.select_for_update().filter(token=token).first()
    if subscription is not None and subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = timezone.now()
        subscription.save(update_fields=["unsubscribed_at"])
    return subscription


def subscribers_notify_on_commit(*, report: Report, event_id: int) -> None:
    """Record, with the change, that the report's followers are to hear of it."""
    if ReportSubscription.objects.filter(
        report=report, confirmed_at__isnull=False, unsubscribed_at__isnull=True
    ).exists():
        outbox_enqueue(kind=SUBSCRIBER_UPDATE_MAIL, report=report, payload={"event": event_id})
