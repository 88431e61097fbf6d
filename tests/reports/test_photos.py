import io
import os

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from PIL import Image

from reports.models import Report, ReportPhoto
from reports.photos import PHOTO_BROKEN, PHOTO_NOT_AN_IMAGE, validate_photo
from reports.services import report_create
from tests.conftest import gps_exif, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

ALAUNPARK = (51.0655, 13.7535)


def _submit(data: bytes, location=None, **kwargs) -> Report:
    report, _ = report_create(
        category="bulky_waste", location=location, photos=[upload(data)], **kwargs
    )
    return report


def test_photo_gps_supplies_the_location_when_none_is_given(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = _submit(jpeg_bytes(exif=gps_exif(*ALAUNPARK)))
    assert report.location.y == pytest.approx(ALAUNPARK[0], abs=1e-5)
    assert report.location.x == pytest.approx(ALAUNPARK[1], abs=1e-5)
    assert report.district.code == "neustadt"
    photo = report.photos.get()
    assert photo.exif_location.distance(report.location) < 1e-6
    assert photo.taken_at is not None


def test_public_copy_has_orientation_applied_and_no_metadata(django_capture_on_commit_callbacks):
    # Stored 800x600 with "rotate 90° clockwise to view" (EXIF orientation 6): shown 600x800.
    original = jpeg_bytes(exif=gps_exif(*ALAUNPARK, orientation=6, serial="SN-4711"))
    with django_capture_on_commit_callbacks(execute=True):
        report = _submit(original)
    photo = report.photos.get()
    assert photo.state == ReportPhoto.State.READY
    public = Image.open(photo.public_image.open("rb"))
    assert public.size == (600, 800)
    # The red mark was top-left as stored; after rotating clockwise it is top-right.
    assert public.getpixel((580, 20))[0] > 200 and public.getpixel((20, 20))[0] < 200
    raw = photo.public_image.open("rb").read()
    assert len(public.getexif()) == 0
    for leak in (b"Exif", b"SN-4711", b"TestCam", b"GPS"):
        assert leak not in raw
    thumb = Image.open(photo.thumbnail.open("rb"))
    assert max(thumb.size) == 320 and len(thumb.getexif()) == 0
    # The original keeps its metadata, privately.
    assert b"SN-4711" in photo.original.open("rb").read()


def test_large_photo_is_scaled_to_1600_px(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = _submit(jpeg_bytes(size=(4000, 3000)), location=Point(13.7535, 51.0655))
    photo = report.photos.get()
    assert (photo.width, photo.height) == (1600, 1200)


def test_originals_are_not_in_public_storage(django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        report = _submit(jpeg_bytes(exif=gps_exif(*ALAUNPARK)))
    photo = report.photos.get()
    public_root = settings.STORAGES["default"]["OPTIONS"]["location"]
    assert not str(photo.original.path).startswith(str(public_root))
    with pytest.raises(NotImplementedError):
        photo.original.url  # noqa: B018 - the private storage has no URL at all


def test_text_file_named_jpg_is_refused_and_nothing_is_stored():
    with pytest.raises(ValidationError) as error:
        _submit(b"Hello, I am not a picture at all.\n" * 10, location=Point(13.7535, 51.0655))
    assert error.value.message_dict["photo"] == [PHOTO_NOT_AN_IMAGE]
    assert not Report.objects.exists() and not ReportPhoto.objects.exists()


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes(size=(1200, 900), quality=95)
    with pytest.raises(ValidationError) as error:
        validate_photo(upload(data[: len(data) // 2]))
    assert error.value.messages == [PHOTO_BROKEN]


def test_decompression_bomb_is_refused_before_decoding(settings):
    # A 12,000 x 12,000 PNG of one colour is tiny on disk but 144 megapixels decoded.
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG", optimize=True)
    assert len(out.getvalue()) < 200_000
    with pytest.raises(ValidationError, match="too many pixels"):
        validate_photo(upload(out.getvalue(), "bomb.png", "image/png"))


def test_oversized_file_is_refused(settings):
    settings.PHOTO_MAX_BYTES = 100_000
    noise = Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=100)
    assert len(out.getvalue()) > 100_000
    with pytest.raises(ValidationError, match="too large"):
        validate_photo(upload(out.getvalue()))


def test_gif_is_refused_as_format():
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "GIF")
    with pytest.raises(ValidationError, match="GIF format are not accepted"):
        validate_photo(upload(out.getvalue(), "x.gif", "image/gif"))


def test_png_webp_and_heic_are_accepted():
    import pillow_heif

    for fmt, name in (("PNG", "a.png"), ("WEBP", "a.webp")):
        out = io.BytesIO()
        Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(out, fmt)
        assert validate_photo(upload(out.getvalue(), name)).format == fmt
    heic = pillow_heif.from_pillow(Image.new("RGB", (64, 48), (10, 200, 10)))
    out = io.BytesIO()
    heic.save(out, format="HEIF", quality=80)
    info = validate_photo(upload(out.getvalue(), "iphone.heic"))
    assert (info.format, info.width, info.height) == ("HEIF", 64, 48)


def test_report_without_location_or_gps_asks_for_the_place():
    with pytest.raises(ValidationError) as error:
        _submit(jpeg_bytes())
    assert "Please give the place" in error.value.message_dict["location"][0]


def test_large_jpeg_is_decoded_at_reduced_size(monkeypatch):
    """DCT scaling must actually kick in for a 4:3 photo (decoding costs most of the time)."""
    from PIL import JpegImagePlugin

    from reports.photos import open_upright

    decoded_sizes = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def recording_draft(self, mode, size):
        result = original_draft(self, mode, size)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", recording_draft)
    image = open_upright(jpeg_bytes(size=(4000, 3000)))
    assert decoded_sizes == [(2000, 1500)]  # half size, not the full 12 megapixels
    assert image.size == (1600, 1200)
