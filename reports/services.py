import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _

from districts.geo import metres_between
from districts.models import PART_CELLS_PER_DEGREE
from districts.selectors import (
    PLACE_ADDRESS_METERS,
    PLACE_STREET_METERS,
    district_for_point,
    place_for_point,
    point_in_service_area,
)
from reports.emails import update_kind
from reports.geo import public_point
from reports.handlers import RESIDENT_UPDATE_MAIL, TRACKING_MAIL
from reports.idempotency import idempotency_earlier, idempotency_record
from reports.models import (
    Category,
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.outbox import SWEEP_BATCH, outbox_enqueue, task_send
from reports.photos import PhotoInfo, open_upright, render_public_copies, validate_photo
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


def _validate_photos(photos: Sequence) -> list[PhotoInfo]:
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photo": TOO_MANY_PHOTOS.format(limit=MAX_PHOTOS)})
    infos = []
    for upload in photos:
        try:
            infos.append(validate_photo(upload))
        except ValidationError as exc:
            raise ValidationError({"photo": exc.messages}) from exc
    return infos


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


def _store_photo(
    *, report: Report, upload, info: PhotoInfo, kind: str = ReportPhoto.Kind.BEFORE
) -> ReportPhoto:
    upload.seek(0)
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[info.format]
    photo = ReportPhoto(
        report=report,
        kind=kind,
        width=info.width,
        height=info.height,
        exif_location=info.gps,
        taken_at=timezone.make_aware(info.taken_at) if info.taken_at else None,
    )
    photo.original.save(f"r{report.pk}.{extension}", ContentFile(upload.read()), save=False)
    photo.save()
    transaction.on_commit(lambda: _queue_photo_processing(photo.pk))
    return photo


def _queue_tracking_email(report: Report) -> None:
    """Send the tracking link once the report is committed, in the submitter's language."""
    outbox_enqueue(kind=TRACKING_MAIL, report=report, payload={"language": reporter_language()})


def reporter_language() -> str:
    """The language of the request being served (the resident's), as a supported code."""
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    supported = {code for code, _name in settings.LANGUAGES}
    return language if language in supported else settings.LANGUAGE_CODE


def _queue_photo_processing(photo_id: int, detect: bool = True) -> None:
    """After commit: ask a worker to process the photo. If the broker is unreachable the photo
    stays pending and the sweep queues it again (`photos_pending_requeue`)."""
    from reports.tasks import report_photo_process_task  # tasks import services

    task_send(report_photo_process_task, (photo_id, detect) if not detect else (photo_id,))


def photos_pending_requeue(*, now: datetime | None = None) -> int:
    """Queue again every photo still pending OUTBOX_SWEEP_AGE_SECONDS after it was queued (its
    message was lost, or its worker died). Returns how many were queued."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_SWEEP_AGE_SECONDS)
    with transaction.atomic():
        due = list(
            ReportPhoto.objects.select_for_update(skip_locked=True)
            .filter(state=ReportPhoto.State.PENDING, queued_at__lte=cutoff)
            .order_by("queued_at")
            .values_list("pk", "redacted_at")[:SWEEP_BATCH]
        )
        ReportPhoto.objects.filter(pk__in=[pk for pk, _ in due]).update(queued_at=now)
    # Never rendered: detect faces and plates; rendered before: staff boxes only.
    sent = sum(_queue_photo_processing(pk, redacted is None) is not False for pk, redacted in due)
    if due:
        logger.info("photo sweep: %d pending photo(s) queued again", len(due))
    return sent


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
            report.full_clean()
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


def _lock(report: Report, expected_version: int | None) -> Report:
    current = Report.objects.select_for_update().get(pk=report.pk)
    if expected_version is not None and current.version != expected_version:
        raise ReportChangedMeanwhile(current)
    return current


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
    info = None
    if photo is not None:
        try:
            info = validate_photo(photo)
        except ValidationError as exc:
            raise ValidationError({"photo": exc.messages}) from exc
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
        data={"duplicate_of": duplicate_of.pk} if duplicate_of else {},
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
    info = None
    if photo is not None:
        try:
            info = validate_photo(photo)
        except ValidationError as exc:
            raise ValidationError({"photo": exc.messages}) from exc
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


@transaction.atomic
def report_photo_add(
    *, report: Report, upload, kind: str = ReportPhoto.Kind.BEFORE, actor=None
) -> ReportPhoto:
    try:
        info = validate_photo(upload)
    except ValidationError as exc:
        raise ValidationError({"photo": exc.messages}) from exc
    photo = _store_photo(report=report, upload=upload, info=info, kind=kind)
    event_record(report=report, kind=ReportEvent.Kind.PHOTO, actor=actor, photo=photo)
    return photo


@transaction.atomic
def report_flag_add(
    *, report: Report, kind: str, reason: str, data: dict | None = None
) -> ReportFlag:
    """Flag a report for the dispatcher; an identical open flag is not added twice."""
    existing = report.flags.filter(kind=kind, resolved_at__isnull=True, reason=reason).first()
    if existing is not None:
        return existing
    flag = ReportFlag(report=report, kind=kind, reason=reason, data=data or {})
    flag.full_clean()
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


def report_photo_process(*, photo_id: int, detect: bool = True) -> ReportPhoto | None:
    """Make the redacted public copy and thumbnail of a stored original (idempotent).

    With `detect`, faces and number plates are searched and added to the photo's blur boxes
    (boxes staff set are kept). When the detector fails, no public copy exists and the photo is
    `needs_review` until staff saved its boxes. After a staff edit, `detect=False` re-renders
    with exactly the stored boxes.
    """
    from reports.redaction import RedactionError, clean_boxes
    from reports.redaction import detect as detect_boxes

    photo = ReportPhoto.objects.filter(pk=photo_id).first()
    if photo is None:
        logger.warning("photo %s vanished before processing", photo_id)
        return None
    if photo.state != ReportPhoto.State.PENDING:
        # A second message for the same work (redelivered, or queued again by the sweep).
        logger.info("photo %s is %s already; nothing to do", photo_id, photo.state)
        return photo if photo.state == ReportPhoto.State.READY else None
    if not photo.original:
        logger.warning("photo %s has no original any more; nothing to render", photo_id)
        return None
    with photo.original.open("rb") as handle:
        data = handle.read()
    try:
        image = open_upright(data)
    except (OSError, ValueError) as exc:
        logger.error("photo %s could not be processed: %s", photo_id, exc)
        ReportPhoto.objects.filter(pk=photo_id).update(state=ReportPhoto.State.FAILED)
        return None
    boxes = clean_boxes(photo.blur_boxes)
    if detect:
        try:
            found = detect_boxes(image)
        except RedactionError as exc:
            logger.error("photo %s: redaction failed, kept hidden for review: %s", photo_id, exc)
            _public_copies_delete(photo)
            photo.state = ReportPhoto.State.NEEDS_REVIEW
            photo.redaction_error = str(exc)[:2000]
            photo.save(update_fields=["public_image", "thumbnail", "state", "redaction_error"])
            return None
        boxes = [b for b in boxes if b["source"] == "staff"] + [b.as_dict() for b in found]
    rendered = render_public_copies(data, boxes=boxes, image=image)
    old_public, old_thumb = photo.public_image.name, photo.thumbnail.name
    photo.public_image.save(f"p{photo.pk}.jpg", ContentFile(rendered.public_jpeg), save=False)
    photo.thumbnail.save(f"t{photo.pk}.jpg", ContentFile(rendered.thumbnail_jpeg), save=False)
    photo.width, photo.height = rendered.width, rendered.height
    photo.blur_boxes = boxes
    photo.redacted_at = timezone.now()
    photo.redaction_error = ""
    photo.state = ReportPhoto.State.READY
    photo.save(
        update_fields=[
            "public_image",
            "thumbnail",
            "width",
            "height",
            "state",
            "blur_boxes",
            "redacted_at",
            "redaction_error",
        ]
    )
    for name in (old_public, old_thumb):
        if name and name not in (photo.public_image.name, photo.thumbnail.name):
            photo.public_image.storage.delete(name)
    logger.info("photo %s rendered with %s blur box(es)", photo_id, len(boxes))
    return photo


def _public_copies_delete(photo: ReportPhoto) -> None:
    for field in (photo.public_image, photo.thumbnail):
        if field.name:
            field.storage.delete(field.name)
    photo.public_image = ""
    photo.thumbnail = ""


def _meters_from_pin(*, report: Report, point: Point) -> float:
    return metres_between(report.location, point)


def photos_plausibility_check(
    *, report: Report, photos: Sequence[ReportPhoto], now: datetime | None = None
) -> list[ReportFlag]:
    """Flag (never refuse) a report whose resident photo was taken far from the pin or long
    before the submission. Limits: PHOTO_PLAUSIBLE_METERS and PHOTO_PLAUSIBLE_DAYS."""
    limit_m = settings.PHOTO_PLAUSIBLE_METERS
    limit_days = settings.PHOTO_PLAUSIBLE_DAYS
    submitted = now or report.created_at or timezone.now()
    flags = []
    with override(settings.LANGUAGE_CODE):  # the dispatchers' language
        for photo in photos:
            if photo.exif_location is not None:
                meters = _meters_from_pin(report=report, point=photo.exif_location)
                if meters > limit_m:
                    flags.append(
                        report_flag_add(
                            report=report,
                            kind=ReportFlag.Kind.PHOTO_LOCATION,
                            reason=PHOTO_FAR_REASON.format(meters=meters, limit=limit_m),
                            data={"photo": photo.pk, "meters": round(meters, 1)},
                        )
                    )
            if photo.taken_at is not None:
                age = submitted - photo.taken_at
                if age > timedelta(days=limit_days):
                    flags.append(
                        report_flag_add(
                            report=report,
                            kind=ReportFlag.Kind.PHOTO_AGE,
                            reason=PHOTO_OLD_REASON.format(
                                taken=timezone.localtime(photo.taken_at),
                                days=age.total_seconds() / 86400,
                                limit=limit_days,
                            ),
                            data={"photo": photo.pk, "taken_at": photo.taken_at.isoformat()},
                        )
                    )
    return flags


@transaction.atomic
def report_public_location_refresh(*, report: Report) -> Report:
    """Recompute the public point from the exact one and the current category's grid (call it
    after a report's category or location changed)."""
    current = Report.objects.select_related("category").get(pk=report.pk)
    point = public_point(point=current.location, grid_m=current.category.public_grid_m)
    if point.coords != current.public_location.coords:
        moved_from, current.public_location = current.public_location, point
        current.save(update_fields=["public_location", "updated_at"])
        report_publish(report=current, kind="moved", moved_from=moved_from)
    return current


# --- moderation ------------------------------------------------------------------------------

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
        photo.state = ReportPhoto.State.PENDING
        photo.queued_at = timezone.now()
        photo.save(update_fields=["hidden_reason", "state", "queued_at"])
        photo_id = photo.pk
        transaction.on_commit(lambda: _queue_photo_render(photo_id))
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


@transaction.atomic
def photo_blur_boxes_set(
    *, photo: ReportPhoto, boxes: list, actor: AbstractBaseUser | None = None
) -> ReportPhoto:
    """Staff set the blur boxes of a photo (added, moved or removed in the editor). The photo
    leaves public view until its copies are rendered again with exactly these boxes."""
    from reports.redaction import clean_boxes

    if not photo.original:
        raise ValidationError(BLUR_NO_ORIGINAL)
    cleaned = clean_boxes(boxes)
    photo.blur_boxes = cleaned
    photo.state = ReportPhoto.State.PENDING
    photo.redacted_at = photo.queued_at = timezone.now()
    photo.save(update_fields=["blur_boxes", "state", "redacted_at", "queued_at"])
    event_record(
        report=photo.report,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        photo=photo,
        data={"action": "blur_boxes", "boxes": len(cleaned)},
    )
    photo_id = photo.pk
    transaction.on_commit(lambda: _queue_photo_render(photo_id))
    return photo


def _queue_photo_render(photo_id: int) -> None:
    _queue_photo_processing(photo_id, detect=False)


# --- retention and the resident's own data ----------------------------------------------------


@transaction.atomic
def report_contact_delete(
    *, report: Report, actor: AbstractBaseUser | None = None, why: str = "resident"
) -> Report:
    """Erase the reporter's e-mail, name and phone (the report itself stays, anonymous)."""
    current = Report.objects.select_for_update().get(pk=report.pk)
    had = [
        name
        for name in ("reporter_email", "reporter_name", "reporter_phone")
        if getattr(current, name)
    ]
    current.reporter_email = current.reporter_name = current.reporter_phone = ""
    current.contact_deleted_at = timezone.now()
    current.save(
        update_fields=[
            "reporter_email",
            "reporter_name",
            "reporter_phone",
            "contact_deleted_at",
            "updated_at",
        ]
    )
    event_record(
        report=current,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        data={"action": "contact_deleted", "why": why, "fields": had},
    )
    return current


def photo_original_delete(*, photo: ReportPhoto) -> bool:
    """Delete the private original of a photo; the redacted public copies stay."""
    name = photo.original.name
    if not name:
        return False
    photo.original.storage.delete(name)
    ReportPhoto.objects.filter(pk=photo.pk).update(original="", original_deleted_at=timezone.now())
    return True


def retention_run(*, now: datetime | None = None) -> dict:
    """Erase contact data and photo originals of reports closed more than RETENTION_DAYS ago.

    Returns and logs what was removed: {"contacts": [report ids], "originals": [photo ids]}.
    Open reports and reports closed more recently are not touched.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    due = Report.objects.closed().filter(closed_at__lte=cutoff)
    removed: dict[str, list[int]] = {"contacts": [], "originals": []}
    with_contact = due.exclude(reporter_email="", reporter_name="", reporter_phone="")
    for report in with_contact.only("pk"):
        report_contact_delete(report=report, why="retention")
        removed["contacts"].append(report.pk)
    photos = ReportPhoto.objects.filter(report__in=due).exclude(original="")
    for photo in photos:
        if photo_original_delete(photo=photo):
            removed["originals"].append(photo.pk)
    logger.info(
        "retention (%s days, closed before %s): contact data removed from reports %s; "
        "photo originals removed: %s",
        settings.RETENTION_DAYS,
        cutoff.isoformat(),
        removed["contacts"] or "none",
        removed["originals"] or "none",
    )
    return removed


# Re-routing every report (after new district boundaries), set-based on the district parts:
# pass 1 reads the reports once and finds each one's parts by its grid cell (a hash join, no
# index probe per report; no point-in-polygon test where a district covers the whole cell). It
# keeps only the reports whose stored district may be wrong: covered by another district (moved,
# or on a shared border), by none, or lying exactly on a cell edge (where the neighbouring
# cell's parts count too). Nothing is sorted or written for the great majority.
_REROUTE_SUSPECTS = """
SELECT DISTINCT r.id
FROM reports_report r
LEFT JOIN districts_districtpart p
       ON p.cell_x = floor(ST_X(r.location) * %(per_degree)s)::integer
      AND p.cell_y = floor(ST_Y(r.location) * %(per_degree)s)::integer
      AND (p.whole_cell OR ST_Covers(p.geom, r.location))
WHERE p.district_id IS DISTINCT FROM r.district_id
   OR ST_X(r.location) * %(per_degree)s = floor(ST_X(r.location) * %(per_degree)s)
   OR ST_Y(r.location) * %(per_degree)s = floor(ST_Y(r.location) * %(per_degree)s)
"""
# Pass 2, for the suspects only, set-based too: the create path's rule (covers; on a border the
# first code) on the parts of the report's cell, and of the neighbouring cells when the point lies
# exactly on a cell edge; then a write where the district really changes.
_REROUTE_WRITE = """
WITH suspects AS (
    SELECT r.id, r.location, r.district_id AS old,
           ST_X(r.location) * %(per_degree)s AS gx, ST_Y(r.location) * %(per_degree)s AS gy
    FROM reports_report r WHERE r.id = ANY(%(ids)s)
), cells AS (
    SELECT s.id, s.location, s.old, cell.x, cell.y
    FROM suspects s
    CROSS JOIN LATERAL (VALUES (floor(s.gx), floor(s.gy)), (floor(s.gx) - 1, floor(s.gy)),
                               (floor(s.gx), floor(s.gy) - 1),
                               (floor(s.gx) - 1, floor(s.gy) - 1)) AS cell(x, y)
    WHERE (cell.x = floor(s.gx) OR s.gx = floor(s.gx))
      AND (cell.y = floor(s.gy) OR s.gy = floor(s.gy))
), routed AS (
    SELECT c.id, c.old,
           (array_agg(p.district_id ORDER BY d.code) FILTER (WHERE p.id IS NOT NULL))[1] AS new
    FROM cells c
    LEFT JOIN districts_districtpart p
           ON p.cell_x = c.x::integer AND p.cell_y = c.y::integer
          AND (p.whole_cell OR ST_Covers(p.geom, c.location))
    LEFT JOIN districts_district d ON d.id = p.district_id
    GROUP BY c.id, c.old
)
UPDATE reports_report r
SET district_id = routed.new, version = r.version + 1, updated_at = %(now)s
FROM routed WHERE r.id = routed.id AND routed.new IS DISTINCT FROM routed.old
RETURNING r.id
"""


@transaction.atomic
def reports_reroute(*, now: datetime | None = None) -> list[int]:
    """Give every report the district that covers its point now (no district: none), as after
    new district boundaries; returns the ids of the reports whose district changed.

    Same rule as `district_for_point` on the create path. Deadlines and crews are not touched.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        # A bulk statement: JIT compilation costs more than it saves here, and the planner,
        # unsure how many parts share a cell, may sort all reports for a merge join where
        # hashing the few parts is always cheaper.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(_REROUTE_SUSPECTS, {"per_degree": PART_CELLS_PER_DEGREE})
        suspects = [row[0] for row in cursor.fetchall()]
        if not suspects:
            return []
        cursor.execute(
            _REROUTE_WRITE,
            {"ids": suspects, "now": now, "per_degree": PART_CELLS_PER_DEGREE},
        )
        changed = sorted(row[0] for row in cursor.fetchall())
    logger.info("re-route: %d reports examined again, %d moved", len(suspects), len(changed))
    return changed


# Set-based: each report's nearest addresses by KNN (`<->`, index-ordered), measured in metres;
# the same rule as `place_for_point` (address within PLACE_ADDRESS_METERS, else its street
# within PLACE_STREET_METERS, else the district).
_PLACE_NAMES = """
WITH named AS (
    SELECT r.id, coalesce((
        SELECT CASE WHEN near.m <= %(address_m)s THEN near.street || ' ' || near.house_number
                    WHEN near.m <= %(street_m)s THEN near.street END
        FROM (SELECT a.street, a.house_number,
                     ST_Distance(a.location::geography, r.location::geography) AS m
              FROM districts_address a ORDER BY a.location <-> r.location LIMIT 8) near
        ORDER BY near.m LIMIT 1), d.name, '') AS name
    FROM reports_report r LEFT JOIN districts_district d ON d.id = r.district_id
)
UPDATE reports_report r SET place_name = named.name
FROM named WHERE r.id = named.id AND r.place_name IS DISTINCT FROM named.name
RETURNING r.id
"""


@transaction.atomic
def reports_place_names_refresh() -> list[int]:
    """Name every report's place again (after importing the address list); returns the ids of
    the reports whose place name changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PLACE_NAMES, {"address_m": PLACE_ADDRESS_METERS, "street_m": PLACE_STREET_METERS}
        )
        changed = sorted(row[0] for row in cursor.fetchall())
    logger.info("place names: %d reports renamed", len(changed))
    return changed
