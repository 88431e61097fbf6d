"""Photos of a report: validation, storage, processing into redacted public copies (by a
worker; the pending state is the work record, swept again if its message is lost) and the
plausibility flags."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import override

from districts.geo import metres_between
from reports.models import (
    Report,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from reports.outbox import SWEEP_BATCH, task_send
from reports.photos import PhotoInfo, open_upright, render_public_copies, validate_photo
from reports.services.base import (
    BLUR_NO_ORIGINAL,
    MAX_PHOTOS,
    PHOTO_FAR_REASON,
    PHOTO_OLD_REASON,
    TOO_MANY_PHOTOS,
    event_record,
    report_flag_add,
)

logger = logging.getLogger(__name__)


def _checked_photo(upload) -> PhotoInfo:
    """`validate_photo`, its complaint filed under the form's `photo` field."""
    try:
        return validate_photo(upload)
    except ValidationError as exc:
        raise ValidationError({"photo": exc.messages}) from exc


def _validate_photos(photos: Sequence) -> list[PhotoInfo]:
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photo": TOO_MANY_PHOTOS.format(limit=MAX_PHOTOS)})
    return [_checked_photo(upload) for upload in photos]


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


@transaction.atomic
def report_photo_add(
    *, report: Report, upload, kind: str = ReportPhoto.Kind.BEFORE, actor=None
) -> ReportPhoto:
    info = _checked_photo(upload)
    photo = _store_photo(report=report, upload=upload, info=info, kind=kind)
    event_record(report=report, kind=ReportEvent.Kind.PHOTO, actor=actor, photo=photo)
    return photo


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
    photo.redacted_at = timezone.now()
    photo_render_again(photo, "blur_boxes", "redacted_at")
    event_record(
        report=photo.report,
        kind=ReportEvent.Kind.NOTE,
        actor=actor,
        public=False,
        photo=photo,
        data={"action": "blur_boxes", "boxes": len(cleaned)},
    )
    return photo


def photo_render_again(photo: ReportPhoto, *changed: str) -> None:
    """Save `changed` fields of the photo and have its public copies made again after commit.
    Until then it is pending, not public: its state and `queued_at` are the work record the
    sweep re-sends should the message be lost."""
    photo.state = ReportPhoto.State.PENDING
    photo.queued_at = timezone.now()
    photo.save(update_fields=[*changed, "state", "queued_at"])
    photo_id = photo.pk
    transaction.on_commit(lambda: _queue_photo_render(photo_id))


def _queue_photo_render(photo_id: int) -> None:
    _queue_photo_processing(photo_id, detect=False)
