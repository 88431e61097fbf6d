"""What the public sees of a report: staff moderation and public "inappropriate" flags."""

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import override

from reports.models import (
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.services.base import (
    BLUR_NO_ORIGINAL,
    MODERATION_NEEDS_REASON,
    MODERATION_UNKNOWN_ACTION,
    PUBLIC_FLAG_NOT_VISIBLE,
    PUBLIC_FLAG_REASON,
    event_record,
    report_flag_add,
)
from reports.services.photos import (
    _public_copies_delete,
    photo_render_again,
)

logger = logging.getLogger(__name__)


MODERATION_ACTIONS = ("approve", "hide", "hide_description", "show_description")


@transaction.atomic
def report_moderate(
    *, report: Report, action: str, reason: str = "", actor: AbstractBaseUser | None = None
) -> Report:
    """Staff decide what the public sees of a report.

    approve: publish it (a pre-moderated report, or one hidden before); hide: take the whole
    report off every public output; hide_description / show_description: the text only.
    Hiding needs a reason. Open public flags are resolved by any decision.
    """
    if action not in MODERATION_ACTIONS:
        raise ValidationError(MODERATION_UNKNOWN_ACTION.format(action=action))
    reason = reason.strip()[:300]
    if action in ("hide", "hide_description") and not reason:
        raise ValidationError({"reason": MODERATION_NEEDS_REASON})
    current = Report.objects.select_for_update().get(pk=report.pk)
    fields = ["version", "updated_at"]
    if action == "approve":
        current.moderation, current.moderation_reason = Report.Moderation.PUBLISHED, reason
        fields += ["moderation", "moderation_reason"]
    elif action == "hide":
        current.moderation, current.moderation_reason = Report.Moderation.HIDDEN, reason
        fields += ["moderation", "moderation_reason"]
    elif action == "hide_description":
        current.description_hidden_reason = reason
        fields.append("description_hidden_reason")
    else:
        current.description_hidden_reason = ""
        fields.append("description_hidden_reason")
    current.version = F("version") + 1
    current.save(update_fields=fields)
    current.refresh_from_db()
    now = timezone.now()
    resolver = actor if actor is not None and actor.is_authenticated else None
    current.flags.filter(kind=ReportFlag.Kind.PUBLIC_FLAG, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=resolver
    )
    event_record(
        report=current,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        note=reason,
        public=False,
        data={"action": f"moderation_{action}"},
    )
    return current


@transaction.atomic
def photo_moderate(
    *, photo: ReportPhoto, hide: bool, reason: str = "", actor: AbstractBaseUser | None = None
) -> ReportPhoto:
    """Staff hide a photo (with a reason; the public sees "hidden by the city") or show it."""
    reason = reason.strip()[:300]
    if hide and not reason:
        raise ValidationError({"reason": MODERATION_NEEDS_REASON})
    if hide:
        # The public files go (their names are guessable); showing again renders them anew.
        _public_copies_delete(photo)
        photo.hidden_reason = reason
        photo.save(update_fields=["hidden_reason", "public_image", "thumbnail"])
    else:
        if not photo.original:
            raise ValidationError(BLUR_NO_ORIGINAL)
        photo.hidden_reason = ""
        photo_render_again(photo, "hidden_reason")
    event_record(
        report=photo.report,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        note=reason,
        public=False,
        photo=photo,
        data={"action": "photo_hide" if hide else "photo_show"},
    )
    return photo


@transaction.atomic
def report_public_flag(*, report: Report, note: str = "") -> ReportFlag:
    """Someone from the public says a report is inappropriate: it goes to the moderation queue
    (it stays visible until staff decide)."""
    if not report.is_published:
        raise ValidationError(PUBLIC_FLAG_NOT_VISIBLE)
    note = " ".join(note.split())[:500]
    with override(settings.LANGUAGE_CODE):
        reason = PUBLIC_FLAG_REASON.format(note=note or "–")
    return report_flag_add(report=report, kind=ReportFlag.Kind.PUBLIC_FLAG, reason=reason)
