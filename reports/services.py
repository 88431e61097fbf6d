import logging
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from districts.selectors import district_for_point, point_in_service_area
from reports.models import (
    Category,
    IdempotencyKey,
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.photos import PhotoInfo, render_public_copies, validate_photo

logger = logging.getLogger(__name__)

S = Report.Status

CATEGORY_UNKNOWN = "Unknown category '{code}'. Choose one of: {codes}."
CATEGORY_INACTIVE = "The category '{code}' is no longer in use."
LOCATION_REQUIRED = "Please give the place: a position on the map, or a photo with GPS data in it."
LOCATION_INVALID = "The coordinates are not valid: latitude must be -90..90, longitude -180..180."
LOCATION_OUTSIDE = (
    "This place ({lat:.5f}, {lon:.5f}) is outside the area this service covers. "
    "Please report it to the city or municipality responsible there."
)
PHOTO_REQUIRED = "A photo is required for this category."
TOO_MANY_PHOTOS = "At most {limit} photos can be sent with one report."
DESCRIPTION_TOO_LONG = "The description is too long (at most {limit} characters)."
REPORT_TRANSITION_NOT_ALLOWED = "A report that is '{frm}' cannot become '{to}'."
REPORT_CLOSE_NEEDS_PROOF = "Clearing a report needs an after-photo or a note."
REPORT_REJECT_NEEDS_REASON = "Rejecting a report needs a reason."
REPORT_DUPLICATE_NEEDS_TARGET = "Marking a duplicate needs the open report it duplicates."
REPORT_DUPLICATE_OF_ITSELF = "A report cannot be a duplicate of itself."
REPORT_DUPLICATE_TARGET_CLOSED = "Report #{id} is closed; a duplicate must point to an open report."
REPORT_CHANGED_MEANWHILE = (
    "This ticket was changed meanwhile (now '{status}', version {version}). "
    "Please look at its current state and try again."
)

CREATE_SCOPE = "report_create"
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
    return ReportEvent.objects.create(
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


def _queue_photo_processing(photo_id: int) -> None:
    from reports.tasks import report_photo_process_task  # tasks import services

    report_photo_process_task.delay(photo_id)


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
) -> tuple[Report, bool]:
    """Validate and store a new report with its photos. Returns (report, created).

    A repeated `idempotency_key` returns the report the first call created and stores nothing.
    Routing to a crew is the caller's next step (`crews.services.report_dispatch`).
    """
    if idempotency_key:
        earlier = IdempotencyKey.objects.filter(
            scope=CREATE_SCOPE, key=idempotency_key
        ).select_related("report")
        if earlier:
            return earlier[0].report, False
    if isinstance(category, str):
        category = category_by_code(category)
    elif not category.active:
        raise ValidationError({"category": CATEGORY_INACTIVE.format(code=category.code)})
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError({"description": DESCRIPTION_TOO_LONG.format(limit=MAX_DESCRIPTION)})
    infos = _validate_photos(photos)
    if category.photo_required and not photos:
        raise ValidationError({"photo": PHOTO_REQUIRED})
    if location is None:
        location = next((info.gps for info in infos if info.gps is not None), None)
        if location is None:
            raise ValidationError({"location": LOCATION_REQUIRED})
    location.srid = location.srid or 4326
    location_check(point=location)

    try:
        with transaction.atomic():
            report = Report(
                location=location,
                category=category,
                district=district_for_point(point=location),
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
                IdempotencyKey.objects.create(
                    scope=CREATE_SCOPE, key=idempotency_key, report=report
                )
            event_record(report=report, kind=ReportEvent.Kind.CREATED, actor=actor, to_status=S.NEW)
            for upload, info in zip(photos, infos, strict=True):
                _store_photo(report=report, upload=upload, info=info)
    except IntegrityError:
        # Two retries raced: the other one stored the report first; answer with it.
        earlier = IdempotencyKey.objects.filter(
            scope=CREATE_SCOPE, key=idempotency_key
        ).select_related("report")
        if idempotency_key and earlier:
            return earlier[0].report, False
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
) -> Report:
    """The one place a report's status changes. Locks the row; one concurrent change wins."""
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
def report_flag_resolve(*, flag: ReportFlag, actor: AbstractBaseUser | None = None) -> ReportFlag:
    flag.resolved_at = timezone.now()
    flag.resolved_by = actor if actor is not None and actor.is_authenticated else None
    flag.save(update_fields=["resolved_at", "resolved_by"])
    return flag


def report_photo_process(*, photo_id: int) -> ReportPhoto | None:
    """Make the public copy and thumbnail of a stored original (idempotent)."""
    photo = ReportPhoto.objects.filter(pk=photo_id).first()
    if photo is None:
        logger.warning("photo %s vanished before processing", photo_id)
        return None
    with photo.original.open("rb") as handle:
        data = handle.read()
    try:
        rendered = render_public_copies(data)
    except (OSError, ValueError) as exc:
        logger.error("photo %s could not be processed: %s", photo_id, exc)
        ReportPhoto.objects.filter(pk=photo_id).update(state=ReportPhoto.State.FAILED)
        return None
    old_public, old_thumb = photo.public_image.name, photo.thumbnail.name
    photo.public_image.save(f"p{photo.pk}.jpg", ContentFile(rendered.public_jpeg), save=False)
    photo.thumbnail.save(f"t{photo.pk}.jpg", ContentFile(rendered.thumbnail_jpeg), save=False)
    photo.width, photo.height = rendered.width, rendered.height
    photo.state = ReportPhoto.State.READY
    photo.save(update_fields=["public_image", "thumbnail", "width", "height", "state"])
    for name in (old_public, old_thumb):
        if name and name not in (photo.public_image.name, photo.thumbnail.name):
            photo.public_image.storage.delete(name)
    return photo
