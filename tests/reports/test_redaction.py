"""Faces and number plates are blurred in every public copy; the original stays sharp and private.

Real images: scikit-image's astronaut (a NASA portrait, shipped inside the package) and a
photo-like scene with a rendered German number plate on a car, pasted onto scikit-image's
"coffee" photo. OpenCV's bundled plate cascade is trained on Russian plates; on rendered German
plates (black on white, EU band) it finds the plate at 40, 60 and 90 px plate height, and
slightly tilted, see `test_plate_found_at_sizes_and_tilts`. The same on a 12 MP photo, and faces
at several sizes and tilts: tests/reports/test_public_copies.py; recall over a larger labelled
set: bench B8 detection.
"""

import io

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from PIL import Image, ImageDraw
from skimage import data as skdata

from demo.loaders import german_plate, privacy_demo_photo
from reports import redaction
from reports.models import ReportPhoto
from reports.photos import open_upright, render_public_copies
from reports.redaction import RedactionError, detect
from reports.selectors import report_photos_public
from reports.services import photo_blur_boxes_set, report_create
from tests.conftest import upload

pytestmark = pytest.mark.django_db

PLACE = Point(13.7412, 51.0530, srid=4326)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def astronaut_jpeg() -> bytes:
    return _jpeg(Image.fromarray(skdata.astronaut()))


def plate_scene(
    height: int = 60, angle: float = 0
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A photo with a car and a German plate; returns the image and the plate's (l, t, r, b)."""
    scene = Image.fromarray(skdata.coffee()).convert("RGB").resize((1024, 768))
    draw = ImageDraw.Draw(scene)
    draw.rectangle([250, 430, 800, 700], fill=(40, 40, 45))
    plate = german_plate(height=height)
    if angle:
        plate = plate.rotate(angle, expand=True, fillcolor=(40, 40, 45))
    left, top = 525 - plate.width // 2, 600 - plate.height // 2
    scene.paste(plate, (left, top))
    return scene, (left, top, left + plate.width, top + plate.height)


def _submit(data: bytes, captured):
    with captured(execute=True):
        report, _ = report_create(category="litter", location=PLACE, photos=[upload(data)])
    return report.photos.get()


def _pixels(field_or_bytes) -> np.ndarray:
    raw = field_or_bytes if isinstance(field_or_bytes, bytes) else field_or_bytes.open("rb").read()
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.int16)


def _mask(shape, boxes) -> np.ndarray:
    height, width = shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for b in boxes:
        left, top = int(b["x"] * width), int(b["y"] * height)
        mask[top : int((b["y"] + b["h"]) * height), left : int((b["x"] + b["w"]) * width)] = True
    return mask


def _assert_blurred_only_in_boxes(public: np.ndarray, sharp: np.ndarray, boxes) -> None:
    assert public.shape == sharp.shape
    diff = np.abs(public - sharp).mean(axis=2)
    mask = _mask(public.shape, boxes)
    # Inside the boxes the picture is destroyed; outside only JPEG noise remains.
    assert diff[mask].mean() > 12, diff[mask].mean()
    assert diff[~mask].mean() < 2.5, diff[~mask].mean()


def _covered(boxes, rect, size) -> float:
    """Share of the rectangle `rect` (pixels) covered by the boxes."""
    width, height = size
    mask = _mask((height, width), boxes)
    left, top, right, bottom = rect
    return mask[top:bottom, left:right].mean()


def test_face_on_the_astronaut_photo_is_blurred_in_public_copy_and_thumbnail(
    django_capture_on_commit_callbacks,
):
    data = astronaut_jpeg()
    photo = _submit(data, django_capture_on_commit_callbacks)
    assert photo.state == ReportPhoto.State.READY
    faces = [b for b in photo.blur_boxes if b["label"] == "face"]
    assert faces and all(b["source"] == "auto" for b in faces)
    # The face (eyes to chin) of the portrait lies inside the box found.
    assert _covered(faces, (200, 90, 260, 170), (512, 512)) == 1.0
    sharp = render_public_copies(data, boxes=[])
    _assert_blurred_only_in_boxes(
        _pixels(photo.public_image), _pixels(sharp.public_jpeg), photo.blur_boxes
    )
    _assert_blurred_only_in_boxes(
        _pixels(photo.thumbnail), _pixels(sharp.thumbnail_jpeg), photo.blur_boxes
    )
    # The original is untouched and not in the public storage.
    assert photo.original.open("rb").read() == data
    assert photo.original.storage is not photo.public_image.storage
    assert list(report_photos_public(report=photo.report)) == [photo]


def test_german_number_plate_is_blurred(django_capture_on_commit_callbacks):
    scene, rect = plate_scene(height=60)
    data = _jpeg(scene)
    photo = _submit(data, django_capture_on_commit_callbacks)
    plates = [b for b in photo.blur_boxes if b["label"] == "plate"]
    assert plates
    assert _covered(plates, rect, scene.size) > 0.97
    sharp = render_public_copies(data, boxes=[])
    _assert_blurred_only_in_boxes(
        _pixels(photo.public_image), _pixels(sharp.public_jpeg), photo.blur_boxes
    )


@pytest.mark.parametrize(("height", "angle"), [(40, 0), (90, 0), (60, 4), (60, -4)])
def test_plate_found_at_sizes_and_tilts(height, angle):
    scene, rect = plate_scene(height=height, angle=angle)
    boxes = [b.as_dict() for b in detect(scene) if b.label == "plate"]
    assert _covered(boxes, rect, scene.size) > 0.9


def test_demo_photo_has_face_and_plate_found():
    labels = {b.label for b in detect(Image.open(io.BytesIO(privacy_demo_photo())))}
    assert labels == {"face", "plate"}


def test_detector_crash_keeps_the_photo_hidden_until_staff_review(
    django_capture_on_commit_callbacks, monkeypatch, client
):
    def broken(image):
        raise RedactionError("cascade exploded")

    monkeypatch.setattr(redaction, "detect", broken)
    data = astronaut_jpeg()
    photo = _submit(data, django_capture_on_commit_callbacks)
    photo.refresh_from_db()
    assert photo.state == ReportPhoto.State.NEEDS_REVIEW
    assert "cascade exploded" in photo.redaction_error
    assert not photo.public_image and not photo.thumbnail
    assert list(report_photos_public(report=photo.report)) == []
    body = client.get(f"/api/v1/reports/{photo.report_id}/").json()
    assert body["properties"]["photos"] == []
    # Staff draw the box by hand; saving renders the public copies with it.
    face = {"x": 0.3, "y": 0.1, "w": 0.3, "h": 0.3, "source": "staff", "label": "face"}
    with django_capture_on_commit_callbacks(execute=True):
        photo_blur_boxes_set(photo=photo, boxes=[face])
    photo.refresh_from_db()
    assert photo.state == ReportPhoto.State.READY
    assert photo.blur_boxes == [face]
    sharp = render_public_copies(data, boxes=[])
    _assert_blurred_only_in_boxes(_pixels(photo.public_image), _pixels(sharp.public_jpeg), [face])


def test_any_detector_exception_means_needs_review(django_capture_on_commit_callbacks, monkeypatch):
    def broken(name):
        raise MemoryError("no memory for the cascade")

    redaction._cascade.cache_clear()
    monkeypatch.setattr(redaction, "_cascade", broken)
    photo = _submit(astronaut_jpeg(), django_capture_on_commit_callbacks)
    assert photo.state == ReportPhoto.State.NEEDS_REVIEW
    assert not photo.public_image


def test_staff_move_and_remove_boxes_rerender_the_public_copy(django_capture_on_commit_callbacks):
    data = astronaut_jpeg()
    photo = _submit(data, django_capture_on_commit_callbacks)
    old_public = photo.public_image.name
    # Remove the automatic face box, add one over the bottom-right corner instead.
    corner = {"x": 0.7, "y": 0.7, "w": 0.25, "h": 0.25, "source": "staff", "label": ""}
    with django_capture_on_commit_callbacks(execute=True):
        photo_blur_boxes_set(photo=photo, boxes=[corner])
    photo.refresh_from_db()
    assert photo.blur_boxes == [corner]
    sharp = render_public_copies(data, boxes=[])
    # The face is sharp again, the corner blurred: exactly the staff boxes apply.
    _assert_blurred_only_in_boxes(_pixels(photo.public_image), _pixels(sharp.public_jpeg), [corner])
    assert (
        not photo.public_image.storage.exists(old_public) or old_public == photo.public_image.name
    )


def test_boxes_are_fractions_of_the_upright_image(django_capture_on_commit_callbacks):
    image = open_upright(astronaut_jpeg())
    for box in detect(image):
        assert 0 <= box.x <= 1 and 0 <= box.y <= 1
        assert 0 < box.w <= 1 - box.x + 1e-9 and 0 < box.h <= 1 - box.y + 1e-9


def test_photos_stored_before_redaction_are_redacted_by_the_command(
    django_capture_on_commit_callbacks,
):
    from django.core.management import call_command

    photo = _submit(astronaut_jpeg(), django_capture_on_commit_callbacks)
    ReportPhoto.objects.filter(pk=photo.pk).update(blur_boxes=[], redacted_at=None)
    out = io.StringIO()
    call_command("reports_redact", "--sync", stdout=out)
    assert "1 photo(s) would be redacted" in out.getvalue()
    photo.refresh_from_db()
    assert photo.redacted_at is None  # a dry run touches nothing
    out = io.StringIO()
    call_command("reports_redact", "--sync", "--commit", stdout=out)
    assert "1 photo(s) processed" in out.getvalue()
    photo.refresh_from_db()
    assert photo.redacted_at is not None
    assert any(b["label"] == "face" for b in photo.blur_boxes)
