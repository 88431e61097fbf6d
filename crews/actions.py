"""What a crew member does to a ticket from the tablet: start, close, reject, mark duplicate.

Every action goes through `reports.services.report_transition` (row lock, optimistic version),
is allowed only to members of the crew holding the ticket's active assignment, and may carry
an idempotency key so a tablet resending after a lost connection never applies it twice.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from crews.models import Assignment
from crews.queue import duplicate_candidates
from districts.geo import metres_between, within_metres
from reports import wording
from reports.idempotency import IdempotencyKeyReused
from reports.models import IdempotencyKey, Report, ReportFlag, ReportPhoto
from reports.services import (
    ALLOWED,
    REPORT_CLOSE_NEEDS_PHOTO,
    ReportChangedMeanwhile,
    report_flag_add,
    report_transition,
)

logger = logging.getLogger(__name__)

S = Report.Status

SCOPE = "crew_action"

START = "start"
CLOSE = "close"
REJECT = "reject"
DUPLICATE = "duplicate"
ACTIONS = (START, CLOSE, REJECT, DUPLICATE)

# Stored as a code on the event (`data["reason"]`), shown in each reader's language.
REJECT_REASONS = wording.REJECT_REASONS

NOT_YOUR_TICKET = _("This ticket is not assigned to one of your crews.")
UNKNOWN_ACTION = _("Unknown action '{action}'. Choose one of: start, close, reject, duplicate.")
CLOSE_NEEDS_PHOTO = REPORT_CLOSE_NEEDS_PHOTO  # the rule is report_transition's
REJECT_REASON_UNKNOWN = _("Choose a reason: not found, not our responsibility or private ground.")
DUPLICATE_NOT_NEARBY = _("Pick an open ticket within {meters} m of this one.")
# Stored with the first answer (not replayed): what the request carried.
_FINGERPRINT = "request_fingerprint"
KEY_USED_FOR_OTHER_TICKET = _("This idempotency key was already used for ticket #{id}.")

AFTER_PHOTO_MAX_METERS = 100
# Camera clocks drift and EXIF keeps whole seconds: only a clearly earlier photo is flagged.
PHOTO_CLOCK_TOLERANCE = timedelta(minutes=10)
DUPLICATE_MAX_METERS = 50

# Written in the dispatchers' language (settings.LANGUAGE_CODE), times in the city's zone.
FLAG_AFTER_PHOTO_FAR = _("After-photo taken about %(meters)s m from the ticket (GPS in the photo).")
FLAG_AFTER_PHOTO_OLD = _("After-photo taken %(taken)s, before the report was made (%(created)s).")


@dataclass(frozen=True)
class ActionResult:
    report: Report
    response: dict
    replayed: bool = False


def member_may_act(*, user: AbstractBaseUser, report: Report) -> bool:
    """Is the user a member of the crew holding the ticket's active assignment?"""
    if not user.is_authenticated:
        return False
    return Assignment.objects.filter(report=report, active=True, crew__members=user).exists()


def ticket_can_start(*, report: Report) -> bool:
    """May work on the ticket start now? The status machine's answer (reports.services)."""
    return S.IN_PROGRESS in ALLOWED.get(report.status, set())


def _response(report: Report, action: str) -> dict:
    return {
        "id": report.pk,
        "action": action,
        "status": report.status,
        "version": report.version,
    }


def _replay(*, key: str, report: Report, action: str, fingerprint: str) -> ActionResult | None:
    """The first answer to this key, or None. A key used for another ticket is a broken rule;
    on this ticket for another action or another body (reason, note, photo) it is refused like
    a reused submission key (IdempotencyKeyReused, 422), never answered with the first one."""
    earlier = IdempotencyKey.objects.filter(scope=SCOPE, key=key).first()
    if earlier is None:
        return None
    if earlier.report_id != report.pk:
        raise ValidationError(KEY_USED_FOR_OTHER_TICKET.format(id=earlier.report_id))
    answer = dict(earlier.response)
    stored = answer.pop(_FINGERPRINT, None)
    if answer.get("action") != action or (stored is not None and stored != fingerprint):
        raise IdempotencyKeyReused()
    report.refresh_from_db()
    return ActionResult(report=report, response=answer, replayed=True)


def _act(
    *,
    user: AbstractBaseUser,
    report: Report,
    action: str,
    idempotency_key: str | None,
    fingerprint: str,
    apply: Callable[[], Report],
) -> ActionResult:
    """What every crew operation shares: only the crew's members, a repeated idempotency key
    replays the first answer, and the change and its key are one transaction."""
    if not member_may_act(user=user, report=report):
        raise PermissionDenied(NOT_YOUR_TICKET)
    replay_of = {"report": report, "action": action, "fingerprint": fingerprint}
    if idempotency_key:
        replay = _replay(key=idempotency_key, **replay_of)
        if replay is not None:
            return replay
    try:
        with transaction.atomic():
            current = apply()
            response = _response(current, action)
            if idempotency_key:
                IdempotencyKey.objects.create(
                    scope=SCOPE,
                    key=idempotency_key,
                    report=current,
                    response={**response, _FINGERPRINT: fingerprint},
                )
    except (IntegrityError, ReportChangedMeanwhile):
        # A resend raced the first attempt: the first one holds the key, answer with it.
        if idempotency_key:
            replay = _replay(key=idempotency_key, **replay_of)
            if replay is not None:
                return replay
        raise
    logger.info("crew action %s on report %s by %s", action, current.pk, user.pk)
    return ActionResult(report=current, response=response)


# One function per crew operation. Each raises PermissionDenied (not the member's ticket),
# ValidationError (a broken rule) or ReportChangedMeanwhile (the ticket moved on since
# `expected_version`); a repeated `idempotency_key` replays the first answer.


def ticket_start(
    *,
    user: AbstractBaseUser,
    report: Report,
    expected_version: int | None,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
    note: str = "",
) -> ActionResult:
    def apply() -> Report:
        return report_transition(
            report=report,
            to=S.IN_PROGRESS,
            actor=user,
            note=(note or "").strip(),
            expected_version=expected_version,
        )

    return _act(
        user=user,
        report=report,
        action=START,
        idempotency_key=idempotency_key,
        fingerprint=idempotency_fingerprint,
        apply=apply,
    )


def ticket_close(
    *,
    user: AbstractBaseUser,
    report: Report,
    expected_version: int | None,
    photo,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
    note: str = "",
) -> ActionResult:
    """Cleared, with an after-photo (checked for place and time, flagged when doubtful); the
    resident who left an address gets a mail."""

    def apply() -> Report:
        current = report_transition(
            report=report,
            to=S.CLEARED,
            actor=user,
            note=(note or "").strip(),
            photo=photo,
            expected_version=expected_version,
            close_needs_photo=True,
        )
        _check_after_photo(report=current)
        return current

    return _act(
        user=user,
        report=report,
        action=CLOSE,
        idempotency_key=idempotency_key,
        fingerprint=idempotency_fingerprint,
        apply=apply,
    )


def ticket_reject(
    *,
    user: AbstractBaseUser,
    report: Report,
    expected_version: int | None,
    reason: str,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
    note: str = "",
) -> ActionResult:
    """Rejected with a reason from REJECT_REASONS; the dispatchers get the crew's answer as a
    flag and decide whether it ends there or goes elsewhere."""

    def apply() -> Report:
        if reason not in REJECT_REASONS:
            raise ValidationError({"reason": REJECT_REASON_UNKNOWN})
        extra = (note or "").strip()
        current = report_transition(
            report=report,
            to=S.REJECTED,
            actor=user,
            # The reason as a code: the resident's mail and every page say it in their
            # language; the note keeps only the crew's own words.
            note=extra or str(REJECT_REASONS[reason]),
            expected_version=expected_version,
            data={"reason": reason},
        )
        with override(settings.LANGUAGE_CODE):  # the dispatchers' language
            answer = str(REJECT_REASONS[reason])
        report_flag_add(
            report=current,
            kind=ReportFlag.Kind.CREW_ANSWER,
            reason=f"{answer}: {extra}" if extra else answer,
            data={"reason": reason},
        )
        return current

    return _act(
        user=user,
        report=report,
        action=REJECT,
        idempotency_key=idempotency_key,
        fingerprint=idempotency_fingerprint,
        apply=apply,
    )


def ticket_mark_duplicate(
    *,
    user: AbstractBaseUser,
    report: Report,
    expected_version: int | None,
    duplicate_of: Report | None,
    idempotency_key: str | None = None,
    idempotency_fingerprint: str = "",
    note: str = "",
) -> ActionResult:
    """A duplicate of an open ticket within DUPLICATE_MAX_METERS."""

    def apply() -> Report:
        candidates = duplicate_candidates(report=report, meters=DUPLICATE_MAX_METERS)
        if duplicate_of is None or not candidates.filter(pk=duplicate_of.pk).exists():
            raise ValidationError(
                {"duplicate_of": DUPLICATE_NOT_NEARBY.format(meters=DUPLICATE_MAX_METERS)}
            )
        return report_transition(
            report=report,
            to=S.DUPLICATE,
            actor=user,
            note=(note or "").strip(),
            duplicate_of=duplicate_of,
            expected_version=expected_version,
        )

    return _act(
        user=user,
        report=report,
        action=DUPLICATE,
        idempotency_key=idempotency_key,
        fingerprint=idempotency_fingerprint,
        apply=apply,
    )


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _check_after_photo(*, report: Report) -> None:
    """Accept the closing, but flag an after-photo that seems to be from elsewhere or older."""
    photo = report.photos.filter(kind=ReportPhoto.Kind.AFTER).order_by("-id").first()
    if photo is None:
        return
    if photo.exif_location is not None:
        near = within_metres(
            Report.objects.filter(pk=report.pk),
            field="location",
            point=photo.exif_location,
            metres=AFTER_PHOTO_MAX_METERS,
        ).exists()
        if not near:
            meters = metres_between(report.location, photo.exif_location)
            with override(settings.LANGUAGE_CODE):
                reason = FLAG_AFTER_PHOTO_FAR % {"meters": f"{meters:.0f}"}
            report_flag_add(
                report=report,
                kind=ReportFlag.Kind.AFTER_PHOTO,
                reason=reason,
                data={"photo": photo.pk, "meters": round(meters)},
            )
    if photo.taken_at is not None and photo.taken_at < report.created_at - PHOTO_CLOCK_TOLERANCE:
        with override(settings.LANGUAGE_CODE):
            reason = FLAG_AFTER_PHOTO_OLD % {
                "taken": _when(photo.taken_at),
                "created": _when(report.created_at),
            }
        report_flag_add(
            report=report,
            kind=ReportFlag.Kind.AFTER_PHOTO,
            reason=reason,
            data={"photo": photo.pk, "taken_at": photo.taken_at.isoformat()},
        )
