"""What every report service shares: the messages, the status table, the row lock, the audit
trail (`event_record`) and dispatcher flags."""

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.validation import model_validate
from districts.selectors import (
    point_in_service_area,
)
from reports.emails import update_kind
from reports.handlers import RESIDENT_UPDATE_MAIL
from reports.models import (
    Category,
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.outbox import outbox_enqueue
from reports.publish import report_publish
from reports.subscriptions import subscribers_notify_on_commit

logger = logging.getLogger(__name__)


S = Report.Status


CATEGORY_UNKNOWN = _("Unknown category '{code}'. Choose one of: {codes}.")


CATEGORY_INACTIVE = _("The category '{code}' is no longer in use.")


LOCATION_REQUIRED = _(
    "Please give the place: a position on the map, or a photo with GPS data in it."
)


LOCATION_INVALID = _(
    "The coordinates are not valid: latitude must be -90..90, longitude -180..180."
)


LOCATION_OUTSIDE = _(
    "This place ({lat:.5f}, {lon:.5f}) is outside the area this service covers. "
    "Please report it to the city or municipality responsible there."
)


PHOTO_REQUIRED = _("A photo is required for this category.")


TOO_MANY_PHOTOS = _("At most {limit} photos can be sent with one report.")


DESCRIPTION_TOO_LONG = _("The description is too long (at most {limit} characters).")


REPORT_TRANSITION_NOT_ALLOWED = _("A report that is '{frm}' cannot become '{to}'.")


REPORT_CLOSE_NEEDS_PROOF = _("Clearing a report needs an after-photo or a note.")
REPORT_CLOSE_NEEDS_PHOTO = _("Closing a ticket as cleared needs an after-photo.")


REPORT_REJECT_NEEDS_REASON = _("Rejecting a report needs a reason.")


REPORT_DUPLICATE_NEEDS_TARGET = _("Marking a duplicate needs the open report it duplicates.")


REPORT_DUPLICATE_OF_ITSELF = _("A report cannot be a duplicate of itself.")


REPORT_DUPLICATE_TARGET_CLOSED = _(
    "Report #{id} is closed; a duplicate must point to an open report."
)


REPORT_CHANGED_MEANWHILE = _(
    "This ticket was changed meanwhile (now '{status}', version {version}). "
    "Please look at its current state and try again."
)


REOPEN_NOT_CLEARED = _("Only a cleared report can be reopened.")


REOPEN_TOO_LATE = _(
    "This report was cleared more than {days} days ago. Please send a new report instead."
)


REOPEN_NEEDS_NOTE = _("Please tell us briefly what is still wrong.")


REOPEN_FLAG_REASON = _("The resident says it is not fixed: {note}")


PHOTO_FAR_REASON = _(
    "The photo was taken {meters:.0f} m from the pin (more than {limit:.0f} m): check the place."
)


PHOTO_OLD_REASON = _(
    "The photo was taken on {taken:%d.%m.%Y %H:%M}, {days:.1f} days before the report "
    "(more than {limit:.0f} days): it may be out of date."
)


MODERATION_NEEDS_REASON = _("Please give a reason; it is kept with the report.")


MODERATION_UNKNOWN_ACTION = _("Unknown moderation action '{action}'.")


PHOTO_MISSING_REASON = _(
    "This category needs a photo, but the client sent only a link to one ({url}). "
    "The link is not fetched: check it by hand or ask for a photo."
)


PUBLIC_FLAG_REASON = _("Flagged as inappropriate by a member of the public: {note}")


PUBLIC_FLAG_NOT_VISIBLE = _("This report is not public.")


BLUR_NO_ORIGINAL = _(
    "The original of this photo was deleted under the retention rules; it cannot be rendered again."
)


CREATE_SCOPE = "report_create"


REOPEN_WINDOW_DAYS = 14


MAX_PHOTOS = 5


MAX_DESCRIPTION = 5000


ALLOWED: dict[str, set[str]] = {
    S.NEW: {S.ASSIGNED, S.IN_PROGRESS, S.CLEARED, S.REJECTED, S.DUPLICATE},
    S.ASSIGNED: {S.NEW, S.IN_PROGRESS, S.CLEARED, S.REJECTED, S.DUPLICATE},
    S.IN_PROGRESS: {S.ASSIGNED, S.CLEARED, S.REJECTED, S.DUPLICATE},
    # Reopening: back to the queue (assigned when a crew still holds it, else new).
    S.CLEARED: {S.NEW, S.ASSIGNED},
    S.REJECTED: {S.NEW, S.ASSIGNED},
    S.DUPLICATE: {S.NEW, S.ASSIGNED},
}


class ReportChangedMeanwhile(Exception):
    """Raised when a change was based on a version of the report that is no longer current."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(
            REPORT_CHANGED_MEANWHILE.format(status=report.status, version=report.version)
        )


def category_by_code(code: str) -> Category:
    category = Category.objects.filter(code=code).first()
    if category is None:
        codes = ", ".join(Category.objects.filter(active=True).values_list("code", flat=True))
        raise ValidationError({"category": CATEGORY_UNKNOWN.format(code=code, codes=codes)})
    if not category.active:
        raise ValidationError({"category": CATEGORY_INACTIVE.format(code=code)})
    return category


def location_check(*, point: Point) -> None:
    """Raise unless the point is a valid coordinate inside the service area."""
    lon, lat = point.x, point.y
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({"location": LOCATION_INVALID})
    if not point_in_service_area(point=point):
        raise ValidationError({"location": LOCATION_OUTSIDE.format(lat=lat, lon=lon)})


def event_record(
    *,
    report: Report,
    kind: str,
    actor: AbstractBaseUser | None = None,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    public: bool = True,
    photo: ReportPhoto | None = None,
    data: dict | None = None,
) -> ReportEvent:
    report_publish(report=report, kind=kind)
    event = ReportEvent.objects.create(
        report=report,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        photo=photo,
        data=data or {},
    )
    # Every change the resident should hear of is a mail, recorded with the change.
    if update_kind(event) is not None:
        if report.reporter_email:
            outbox_enqueue(kind=RESIDENT_UPDATE_MAIL, report=report, payload={"event": event.pk})
        if report.is_published:
            subscribers_notify_on_commit(report=report, event_id=event.pk)
    return event


def reporter_language() -> str:
    """The language of the request being served (the resident's), as a supported code."""
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    supported = {code for code, _name in settings.LANGUAGES}
    return language if language in supported else settings.LANGUAGE_CODE


def _lock(report: Report, expected_version: int | None) -> Report:
    current = Report.objects.select_for_update().get(pk=report.pk)
    if expected_version is not None and current.version != expected_version:
        raise ReportChangedMeanwhile(current)
    return current


@transaction.atomic
def report_flag_add(
    *, report: Report, kind: str, reason: str, data: dict | None = None
) -> ReportFlag:
    """Flag a report for the dispatcher; an identical open flag is not added twice."""
    existing = report.flags.filter(kind=kind, resolved_at__isnull=True, reason=reason).first()
    if existing is not None:
        return existing
    flag = ReportFlag(report=report, kind=kind, reason=reason, data=data or {})
    model_validate(flag)
    flag.save()
    event_record(
        report=report, kind=ReportEvent.Kind.NOTE, public=False, note=reason, data={"flag": kind}
    )
    return flag


@transaction.atomic
def report_flag_resolve(
    *, flag: ReportFlag, actor: AbstractBaseUser | None = None, note: str = ""
) -> ReportFlag:
    """Clear a flag; the clearing is a history entry (who, when, why) and reaches open maps.
    Clearing a flag that is already cleared changes nothing."""
    current = ReportFlag.objects.select_for_update().get(pk=flag.pk)
    if current.resolved_at is not None:
        return current
    current.resolved_at = timezone.now()
    current.resolved_by = actor if actor is not None and actor.is_authenticated else None
    current.save(update_fields=["resolved_at", "resolved_by"])
    event_record(
        report=current.report,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        note=note.strip(),
        data={"flag_cleared": current.kind, "flag": current.pk},
    )
    return current
