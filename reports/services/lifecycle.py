"""A report's life: submission (`report_create`; routing is `crews.services.report_submit`),
status changes, confirmations and the resident's reopening."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import override

from core.validation import model_validate
from districts.selectors import (
    district_for_point,
    place_for_point,
)
from reports.geo import public_point
from reports.handlers import TRACKING_MAIL
from reports.idempotency import idempotency_earlier, idempotency_record
from reports.models import (
    Category,
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.outbox import outbox_enqueue
from reports.services.base import (
    ALLOWED,
    CATEGORY_INACTIVE,
    CREATE_SCOPE,
    DESCRIPTION_TOO_LONG,
    LOCATION_REQUIRED,
    MAX_DESCRIPTION,
    PHOTO_MISSING_REASON,
    PHOTO_REQUIRED,
    REOPEN_FLAG_REASON,
    REOPEN_NEEDS_NOTE,
    REOPEN_NOT_CLEARED,
    REOPEN_TOO_LATE,
    REOPEN_WINDOW_DAYS,
    REPORT_CLOSE_NEEDS_PHOTO,
    REPORT_CLOSE_NEEDS_PROOF,
    REPORT_DUPLICATE_NEEDS_TARGET,
    REPORT_DUPLICATE_OF_ITSELF,
    REPORT_DUPLICATE_TARGET_CLOSED,
    REPORT_REJECT_NEEDS_REASON,
    REPORT_TRANSITION_NOT_ALLOWED,
    ReportChangedMeanwhile,
    S,
    _lock,
    category_by_code,
    event_record,
    location_check,
    report_flag_add,
    reporter_language,
)
from reports.services.photos import (
    _checked_photo,
    _store_photo,
    _validate_photos,
    photos_plausibility_check,
)

logger = logging.getLogger(__name__)


def _queue_tracking_email(report: Report) -> None:
    """Send the tracking link once the report is committed, in the submitter's language."""
    outbox_enqueue(kind=TRACKING_MAIL, report=report, payload={"language": reporter_language()})


def report_create(
    *,
    category: Category | str,
    location: Point | None,
    description: str = "",
    photos: Sequence = (),
    email: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    address: str = "",
    zipcode: str = "",
    attributes: dict | None = None,
    source: str = Report.Source.APP,
    idempotency_key: str | None = None,
    actor: AbstractBaseUser | None = None,
    photo_url: str = "",
    idempotency_fingerprint: str = "",
) -> tuple[Report, bool]:
    """Validate and store a new report with its photos. Returns (report, created).

    `photo_url`: where the client keeps its photo (Open311's media_url; never fetched). A
    category that requires a photo accepts it instead of an upload, and the report is flagged
    "photo missing" for the dispatcher in the same transaction.

    A repeated `idempotency_key` returns the report the first call created and stores nothing.
    Routing to a crew is the caller's next step (`crews.services.report_dispatch`).
    """
    if idempotency_key:
        # The same key with another request's fingerprint raises IdempotencyKeyReused (422).
        earlier = idempotency_earlier(
            scope=CREATE_SCOPE, key=idempotency_key, fingerprint=idempotency_fingerprint
        )
        if earlier is not None:
            return earlier, False
    if isinstance(category, str):
        category = category_by_code(category)
    elif not category.active:
        raise ValidationError({"category": CATEGORY_INACTIVE.format(code=category.code)})
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError({"description": DESCRIPTION_TOO_LONG.format(limit=MAX_DESCRIPTION)})
    infos = _validate_photos(photos)
    photo_missing = category.photo_required and not photos
    if photo_missing and not photo_url:
        raise ValidationError({"photo": PHOTO_REQUIRED})
    if location is None:
        location = next((info.gps for info in infos if info.gps is not None), None)
        if location is None:
            raise ValidationError({"location": LOCATION_REQUIRED})
    location.srid = location.srid or 4326
    location_check(point=location)

    district = district_for_point(point=location)
    try:
        with transaction.atomic():
            report = Report(
                location=location,
                public_location=public_point(point=location, grid_m=category.public_grid_m),
                moderation=Report.Moderation.PENDING
                if category.moderation == Category.Moderation.APPROVAL
                else Report.Moderation.PUBLISHED,
                category=category,
                district=district,
                place_name=place_for_point(point=location, district=district).name,
                language=reporter_language(),
                description=description.strip(),
                reporter_email=email.strip(),
                reporter_name=reporter_name.strip(),
                reporter_phone=reporter_phone.strip(),
                address=address.strip(),
                zipcode=zipcode.strip(),
                attributes=attributes or {},
                source=source,
            )
            model_validate(report)
            report.save()
            if idempotency_key:
                idempotency_record(
                    scope=CREATE_SCOPE,
                    key=idempotency_key,
                    fingerprint=idempotency_fingerprint,
                    report=report,
                )
            event_record(report=report, kind=ReportEvent.Kind.CREATED, actor=actor, to_status=S.NEW)
            if report.reporter_email:
                _queue_tracking_email(report)
            stored = [
                _store_photo(report=report, upload=upload, info=info)
                for upload, info in zip(photos, infos, strict=True)
            ]
            if source != Report.Source.STAFF:
                photos_plausibility_check(report=report, photos=stored)
            if photo_missing:
                with override(settings.LANGUAGE_CODE):  # the dispatchers' language
                    report_flag_add(
                        report=report,
                        kind=ReportFlag.Kind.PHOTO_MISSING,
                        reason=PHOTO_MISSING_REASON.format(url=photo_url),
                        data={"media_url": photo_url},
                    )
    except IntegrityError:
        # Two retries raced: the other one stored the report first; answer with it.
        if idempotency_key:
            earlier = idempotency_earlier(
                scope=CREATE_SCOPE, key=idempotency_key, fingerprint=idempotency_fingerprint
            )
            if earlier is not None:
                return earlier, False
        raise
    logger.info("report %s created in district %s", report.pk, report.district_id)
    return report, True


@transaction.atomic
def report_transition(
    *,
    report: Report,
    to: str,
    actor: AbstractBaseUser | None = None,
    note: str = "",
    photo=None,
    duplicate_of: Report | None = None,
    expected_version: int | None = None,
    public_note: bool = True,
    close_needs_photo: bool = False,
    data: dict | None = None,
) -> Report:
    """The one place a report's status changes. Locks the row; one concurrent change wins.

    What clearing needs is decided here too: an after-photo or a note, and an after-photo
    alone when `close_needs_photo` (a crew closing from the field)."""
    current = _lock(report, expected_version)
    frm = current.status
    if to not in ALLOWED.get(frm, set()):
        if expected_version is None and report.status != frm:
            raise ReportChangedMeanwhile(current)
        raise ValidationError(REPORT_TRANSITION_NOT_ALLOWED.format(frm=frm, to=to))
    info = _checked_photo(photo) if photo is not None else None
    if to == S.CLEARED and photo is None and close_needs_photo:
        raise ValidationError({"photo": REPORT_CLOSE_NEEDS_PHOTO})
    if to == S.CLEARED and photo is None and not note.strip():
        raise ValidationError(REPORT_CLOSE_NEEDS_PROOF)
    if to == S.REJECTED and not note.strip():
        raise ValidationError(REPORT_REJECT_NEEDS_REASON)
    if to == S.DUPLICATE:
        if duplicate_of is None:
            raise ValidationError(REPORT_DUPLICATE_NEEDS_TARGET)
        if duplicate_of.pk == current.pk:
            raise ValidationError(REPORT_DUPLICATE_OF_ITSELF)
        if not duplicate_of.is_open:
            raise ValidationError(REPORT_DUPLICATE_TARGET_CLOSED.format(id=duplicate_of.pk))
        current.duplicate_of = duplicate_of
    stored_photo = None
    if info is not None:
        stored_photo = _store_photo(
            report=current, upload=photo, info=info, kind=ReportPhoto.Kind.AFTER
        )
    current.status = to
    current.version = F("version") + 1
    current.closed_at = None if to in Report.OPEN_STATUSES else timezone.now()
    current.save(update_fields=["status", "version", "closed_at", "duplicate_of", "updated_at"])
    current.refresh_from_db()
    reopened = frm not in Report.OPEN_STATUSES and to in Report.OPEN_STATUSES
    event_record(
        report=current,
        kind=ReportEvent.Kind.REOPENED if reopened else ReportEvent.Kind.STATUS,
        actor=actor,
        from_status=frm,
        to_status=to,
        note=note.strip(),
        public=public_note,
        photo=stored_photo,
        data={**(data or {}), **({"duplicate_of": duplicate_of.pk} if duplicate_of else {})},
    )
    return current


@transaction.atomic
def report_route_set(
    *, report: Report, due_at, status: str, actor: AbstractBaseUser | None = None
) -> Report:
    """Store the deadline (and assigned/new status) decided by routing."""
    current = Report.objects.select_for_update().get(pk=report.pk)
    frm = current.status
    current.due_at = due_at
    if frm != status and frm in (S.NEW, S.ASSIGNED):
        current.status = status
    current.version = F("version") + 1
    current.save(update_fields=["due_at", "status", "version", "updated_at"])
    current.refresh_from_db()
    return current


@transaction.atomic
def report_confirm(
    *, report: Report, actor: AbstractBaseUser | None = None, note: str = ""
) -> Report:
    """A resident says 'I see this too' instead of filing a duplicate."""
    if not report.is_open:
        raise ValidationError(
            REPORT_TRANSITION_NOT_ALLOWED.format(frm=report.status, to="confirmed")
        )
    Report.objects.filter(pk=report.pk).update(
        confirmations_count=F("confirmations_count") + 1, updated_at=timezone.now()
    )
    report.refresh_from_db()
    event_record(report=report, kind=ReportEvent.Kind.CONFIRMED, actor=actor, note=note.strip())
    return report


def report_reopen_until(*, report: Report) -> datetime | None:
    """Until when a resident may say "not fixed": REOPEN_WINDOW_DAYS after it was closed."""
    if report.closed_at is None:
        return None
    return report.closed_at + timedelta(days=REOPEN_WINDOW_DAYS)


def report_reopen_window_open(*, report: Report, now: datetime | None = None) -> bool:
    """True while a resident may still say "not fixed": cleared at most 14 days ago."""
    if report.status != S.CLEARED or report.closed_at is None:
        return False
    now = now or timezone.now()
    return now <= report_reopen_until(report=report)


@transaction.atomic
def report_reopen_by_resident(
    *, report: Report, note: str, photo=None, now: datetime | None = None
) -> Report:
    """The resident says a cleared report is not fixed: back to the queue (to the crew that
    still holds it), with the note and an optional new photo, and a flag for the dispatchers."""
    current = Report.objects.select_for_update().get(pk=report.pk)
    if current.status != S.CLEARED:
        raise ValidationError(REOPEN_NOT_CLEARED)
    if not report_reopen_window_open(report=current, now=now):
        raise ValidationError(REOPEN_TOO_LATE.format(days=REOPEN_WINDOW_DAYS))
    if not note.strip():
        raise ValidationError({"note": REOPEN_NEEDS_NOTE})
    info = _checked_photo(photo) if photo is not None else None
    # The crew assignment (crews app) stays active when a ticket is cleared; reopening hands the
    # ticket back to that crew. `reports` does not import `crews`, the reverse relation suffices.
    held = current.assignments.filter(active=True).exists()
    # The resident's words go to the dispatchers, not onto public pages.
    current = report_transition(
        report=current, to=S.ASSIGNED if held else S.NEW, note=note, public_note=False
    )
    if info is not None:
        stored = _store_photo(report=current, upload=photo, info=info)
        event_record(report=current, kind=ReportEvent.Kind.PHOTO, photo=stored, public=False)
    with override(settings.LANGUAGE_CODE):  # the dispatchers' language
        reason = REOPEN_FLAG_REASON.format(note=note.strip())
    report_flag_add(report=current, kind=ReportFlag.Kind.REOPENED, reason=reason)
    return current
