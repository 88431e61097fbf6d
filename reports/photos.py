"""Image checks and processing: what a photo must be before we store it, and its public copies."""

import io
import math
import warnings
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError
from pillow_heif import register_heif_opener

register_heif_opener()
# Our own limit (PHOTO_MAX_PIXELS, checked from the header) is the real guard; Pillow's bomb
# check stays on as a second line, never below ours.
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, settings.PHOTO_MAX_PIXELS)
# A truncated file must fail, not be padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF"}

PHOTO_TOO_LARGE = _("The photo is too large ({size_mb:.1f} MB). The limit is {limit_mb:.0f} MB.")
PHOTO_EMPTY = _("The photo file is empty.")
PHOTO_NOT_AN_IMAGE = _(
    "This file is not a photo we can read. Please send a JPEG, PNG, WebP or HEIC."
)
PHOTO_FORMAT = _(
    "Photos in {format} format are not accepted. Please send a JPEG, PNG, WebP or HEIC."
)
PHOTO_TOO_MANY_PIXELS = _(
    "The photo has too many pixels ({megapixels:.0f} megapixels). The limit is {limit:.0f}."
)
PHOTO_BROKEN = _(
    "The photo is damaged or incomplete (perhaps the upload was cut off). Please try again."
)


@dataclass(frozen=True)
class PhotoInfo:
    format: str
    width: int
    height: int
    gps: Point | None
    taken_at: datetime | None


def _read(upload) -> bytes:
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


def validate_photo(upload) -> PhotoInfo:
    """Check an uploaded file is a real, complete, reasonably sized image; raise otherwise.

    The check is by content, never by file name or the client's content type.
    """
    size = getattr(upload, "size", None)
    if size is None:
        size = len(_read(upload))
    if size == 0:
        raise ValidationError(PHOTO_EMPTY, code="empty")
    if size > settings.PHOTO_MAX_BYTES:
        raise ValidationError(
            PHOTO_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=settings.PHOTO_MAX_BYTES / 2**20),
            code="too_large",
        )
    data = _read(upload)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValidationError(
            PHOTO_TOO_MANY_PIXELS.format(
                megapixels=Image.MAX_IMAGE_PIXELS / 1e6, limit=settings.PHOTO_MAX_PIXELS / 1e6
            ).replace("(", "(over "),
            code="too_many_pixels",
        ) from None
    except UnidentifiedImageError:
        raise ValidationError(PHOTO_NOT_AN_IMAGE, code="not_image") from None
    except (OSError, ValueError, SyntaxError):
        raise ValidationError(PHOTO_NOT_AN_IMAGE, code="not_image") from None
    if fmt not in ALLOWED_FORMATS:
        raise ValidationError(PHOTO_FORMAT.format(format=fmt or "?"), code="format")
    # Checked from the header, before any pixel is decoded: this is what stops a bomb.
    if width * height > settings.PHOTO_MAX_PIXELS:
        raise ValidationError(
            PHOTO_TOO_MANY_PIXELS.format(
                megapixels=width * height / 1e6, limit=settings.PHOTO_MAX_PIXELS / 1e6
            ),
            code="too_many_pixels",
        )
    try:
        image = Image.open(io.BytesIO(data))
        if fmt == "JPEG":
            # Decoding at 1/8 scale still reads every scan, so truncation is caught cheaply.
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError(PHOTO_BROKEN, code="broken") from None
    gps, taken_at = read_exif(image)
    return PhotoInfo(format=fmt, width=width, height=height, gps=gps, taken_at=taken_at)


def _to_degrees(value) -> float:
    degrees, minutes, seconds = (float(v) for v in value)
    return degrees + minutes / 60 + seconds / 3600


def read_exif(image: Image.Image) -> tuple[Point | None, datetime | None]:
    """The photo's EXIF GPS position (as a Point, SRID 4326) and capture time, when present."""
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - broken EXIF must not break an otherwise good photo
        return None, None
    gps = None
    try:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if gps_ifd and 2 in gps_ifd and 4 in gps_ifd:
            lat = _to_degrees(gps_ifd[2])
            lon = _to_degrees(gps_ifd[4])
            if str(gps_ifd.get(1, "N")).upper().startswith("S"):
                lat = -lat
            if str(gps_ifd.get(3, "E")).upper().startswith("W"):
                lon = -lon
            if -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
                gps = Point(lon, lat, srid=4326)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        gps = None
    taken_at = None
    try:
        raw = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
            ExifTags.Base.DateTime
        )
        if raw:
            taken_at = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except (KeyError, TypeError, ValueError):
        taken_at = None
    return gps, taken_at


@dataclass(frozen=True)
class Rendered:
    public_jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # A fresh RGB image carries no info dict, so no EXIF, XMP, ICC or comment is written.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    # Optimised Huffman tables (smaller, cheap); baseline, not progressive: progressive encoding
    # took 3x the time of the rest of the encode (bench B8) for a few per cent of file size.
    clean.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _fit(size: tuple[int, int], max_px: int) -> tuple[int, int] | None:
    """The size Pillow's `thumbnail((max_px, max_px))` would give, or None if it fits already."""
    width, height = size
    if width <= max_px and height <= max_px:
        return None
    aspect = width / height
    if aspect <= 1:
        candidates = (math.floor(max_px * aspect), math.ceil(max_px * aspect))
        x = max(min(candidates, key=lambda n: abs(aspect - n / max_px)), 1)
        return x, max_px
    candidates = (math.floor(max_px / aspect), math.ceil(max_px / aspect))
    y = max(min(candidates, key=lambda n: 0 if n == 0 else abs(aspect - max_px / n)), 1)
    return max_px, y


def _shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` (RGB or L) resized to `size` by area averaging. OpenCV's INTER_AREA is as sharp
    as Pillow's bilinear and ~2x faster than its bicubic on the last small step after the JPEG
    draft, and takes an exact integer shrink (the thumbnail) in a few ms (bench B8)."""
    import numpy as np

    from reports.redaction import opencv

    cv2 = opencv()
    pixels = cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_AREA)
    return Image.fromarray(pixels)


# EXIF orientation -> the transpose that shows the photo upright (as ImageOps.exif_transpose).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def open_upright(data: bytes, max_px: int | None = None) -> Image.Image:
    """The photo as an RGB image, orientation applied, at most `max_px` on its longer side."""
    max_px = max_px or settings.PHOTO_PUBLIC_MAX_PX
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        # JPEG DCT scaling: decode straight at the nearest power-of-two size above the target.
        # The box must keep the photo's shape: (1600, 1600) for a 4000x3000 photo would allow
        # no reduction at all (1/2 gives 2000x1500, short of 1600 in height).
        scale = max_px / max(image.size)
        if scale < 1:
            image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # noqa: BLE001 - broken EXIF must not break an otherwise good photo
        orientation = None
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.split()[-1])
        image = background
    elif image.mode == "L":
        image = image.convert("RGB")
    else:
        image.load()
    # Shrink first, then turn: turning the smaller image is cheaper. Either way round the
    # longer side ends at `max_px`.
    size = _fit(image.size, max_px)
    if size:
        image = _shrink(image, size)
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    return image


def encode_jpeg(image: Image.Image, quality: int = 85) -> bytes:
    """A metadata-free JPEG of `image` (used for the staff-only view of an original too)."""
    return _encode(image, quality=quality)


def render_public_copies(
    data: bytes, boxes: list[dict] | None = None, image: Image.Image | None = None
) -> Rendered:
    """Orientation applied, at most PHOTO_PUBLIC_MAX_PX, no metadata, `boxes` blurred (see
    `reports.redaction`); plus a thumbnail made from the blurred copy."""
    from reports.redaction import blur

    thumb_max = settings.PHOTO_THUMB_MAX_PX
    image = image if image is not None else open_upright(data)
    image = blur(image, boxes or [])
    public_jpeg = _encode(image, quality=82)
    size = _fit(image.size, thumb_max)
    thumbnail_jpeg = _encode(_shrink(image, size) if size else image, quality=75)
    return Rendered(public_jpeg, thumbnail_jpeg, image.width, image.height)
