"""Finding faces and number plates on a photo, and blurring given boxes.

The detectors are OpenCV's Haar cascades, which ship inside the `opencv-python-headless` wheel
(`cv2.data.haarcascades`): nothing is downloaded at run time. Faces: the frontal `alt2`
cascade. Number plates: OpenCV's Russian plate cascade (it also finds the similar black-on-white
German plates, see tests/reports/test_redaction.py). `TUNING` says how they run and why; the
bench (B8 detection) measures it against the tuning before issue #18.

Boxes are fractions (0..1) of the upright image, so one list serves the public copy, the
thumbnail and the staff editor at any size.
"""

import logging
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from PIL import Image, ImageFilter

logger = logging.getLogger(__name__)

# A box grows by this share of its size on each side, so hair, chin and plate frame are covered.
PADDING = 0.15


@dataclass(frozen=True)
class Pass:
    """One cascade run over the photo: boxes it finds get `label`."""

    cascade: str  # a file in cv2.data.haarcascades (inside the opencv-python-headless wheel)
    label: str
    scale: float  # the step between window sizes (OpenCV's scaleFactor)
    neighbors: int  # hits needed around a box (OpenCV's minNeighbors)
    min_share: float = 0.0  # smallest object, as a share of the photo's shorter side


@dataclass(frozen=True)
class Tuning:
    """How the cascades run. bench/workloads/b8_detection.py measures recall, false alarms, CPU
    time and memory of this tuning against the one before issue #18, on labelled photos."""

    max_px: int  # detection runs on a grey copy at most this long on its longer side
    passes: tuple[Pass, ...]
    # One window size per OpenCV call (see `_run`); False is one call for all sizes, as before.
    per_level: bool = True


# Issue #18: the tuning before (frontal + profile faces at 1.1, both plate cascades at 1.05) took
# 3.2 s of a core and 810 MB per worker process for 0.70 recall on the labelled set. `alt2`
# finds more faces than `default` at 1.2 with fewer false alarms; the 16-stage plate cascade
# found 2 of 32 plates, none the other did not; the plate cascade at 1.1 with 1 neighbour finds
# what it found at 1.05 with 3. The profile cascade is gone: at 1.2 it alone cost 0.65 s, and
# the labelled set has no side-on face to show what it buys (the bench says so).
TUNING = Tuning(
    max_px=1600,
    passes=(
        Pass("haarcascade_frontalface_alt2.xml", "face", 1.2, 2, 1 / 40),
        Pass("haarcascade_russian_plate_number.xml", "plate", 1.1, 1),
    ),
)


class RedactionError(Exception):
    """The detector could not run; the photo must not be published unreviewed."""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    label: str = ""
    source: str = "auto"

    def as_dict(self) -> dict:
        return {
            "x": round(self.x, 5),
            "y": round(self.y, 5),
            "w": round(self.w, 5),
            "h": round(self.h, 5),
            "label": self.label,
            "source": self.source,
        }


@cache
def opencv():
    """OpenCV, with its own thread pool limited (PHOTO_DETECTION_THREADS, default 1): photo
    workers scale by processes (one per core); OpenCV's default of a thread per core in every
    process made a second process add nothing (bench B8)."""
    import cv2

    cv2.setNumThreads(settings.PHOTO_DETECTION_THREADS)
    return cv2


@cache
def _cascade(name: str):
    cv2 = opencv()

    classifier = cv2.CascadeClassifier(name if "/" in name else cv2.data.haarcascades + name)
    if classifier.empty():
        raise RedactionError(f"OpenCV cascade {name} could not be loaded")
    return classifier


def _gray(image: Image.Image, max_px: int):
    import numpy as np

    small = image.convert("L")
    small.thumbnail((max_px, max_px), Image.Resampling.BILINEAR)
    return np.asarray(small), small.size


def _run(gray, run: Pass, per_level: bool = True) -> list:
    """What `detectMultiScale` finds, one window size at a time.

    OpenCV builds the integral images of every window size at once before it looks: on a
    1600 px photo at scale 1.1 that is ~180 MB (at 1.05, ~300 MB), which made a photo worker
    880 MB. Asked for one size at a time (minSize = maxSize), it holds one level (~25 MB),
    finds exactly the same candidates, and the grouping OpenCV would do is done here over all of
    them (`groupRectangles`, its GROUP_EPS 0.2), so the result is the same boxes.
    """
    cv2 = opencv()
    cascade = _cascade(run.cascade)
    height, width = gray.shape[:2]
    least = int(min(width, height) * run.min_share)
    if not per_level:
        found = cascade.detectMultiScale(
            gray, scaleFactor=run.scale, minNeighbors=run.neighbors, minSize=(least, least)
        )
        return [[int(v) for v in rect] for rect in found]
    window_w, window_h = cascade.getOriginalWindowSize()
    candidates: list = []
    factor = 1.0
    while True:
        # OpenCV's own sequence of window sizes (cvRound of the window times scale**k).
        size = (round(window_w * factor), round(window_h * factor))
        if size[0] > width or size[1] > height:
            break
        if min(size) >= least:
            found = cascade.detectMultiScale(
                gray, scaleFactor=run.scale, minNeighbors=0, minSize=size, maxSize=size
            )
            candidates.extend([int(v) for v in rect] for rect in found)
        factor *= run.scale
    if run.neighbors and candidates:
        candidates, _ = cv2.groupRectangles(candidates, run.neighbors, 0.2)
    return list(candidates)


def detect(image: Image.Image, tuning: Tuning = TUNING) -> list[Box]:
    """Boxes around faces and number plates on an upright RGB image. Raises RedactionError."""
    try:
        cv2 = opencv()
        gray, (width, height) = _gray(image, tuning.max_px)
        gray = cv2.equalizeHist(gray)
        found: list[Box] = []
        for run in tuning.passes:
            for x, y, w, h in _run(gray, run, tuning.per_level):
                found.append(_box(x, y, w, h, width, height, run.label))
    except RedactionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any detector failure means "do not publish"
        raise RedactionError(f"{type(exc).__name__}: {exc}") from exc
    found = merge_overlapping(found)
    logger.info("redaction found %s box(es)", len(found))
    return found


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a.w * a.h, b.w * b.h)


def merge_overlapping(boxes: list[Box], threshold: float = 0.5) -> list[Box]:
    """One box for what two cascades found at about the same place (same label): their union."""
    merged: list[Box] = []
    for box in boxes:
        for index, kept in enumerate(merged):
            if kept.label == box.label and _overlap(kept, box) >= threshold:
                left, top = min(kept.x, box.x), min(kept.y, box.y)
                right = max(kept.x + kept.w, box.x + box.w)
                bottom = max(kept.y + kept.h, box.y + box.h)
                merged[index] = Box(left, top, right - left, bottom - top, kept.label, kept.source)
                break
        else:
            merged.append(box)
    return merged


def _box(x, y, w, h, width: int, height: int, label: str) -> Box:
    x, y, w, h = float(x), float(y), float(w), float(h)
    pad_w, pad_h = w * PADDING, h * PADDING
    left = max(0.0, (x - pad_w) / width)
    top = max(0.0, (y - pad_h) / height)
    right = min(1.0, (x + w + pad_w) / width)
    bottom = min(1.0, (y + h + pad_h) / height)
    return Box(left, top, right - left, bottom - top, label=label, source="auto")


def clean_boxes(raw: list) -> list[dict]:
    """Validate boxes coming from storage or the staff editor; drop what is not a box."""
    boxes = []
    for item in raw or []:
        try:
            x, y = float(item["x"]), float(item["y"])
            w, h = float(item["w"]), float(item["h"])
        except (KeyError, TypeError, ValueError):
            continue
        x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        w, h = min(max(w, 0.0), 1.0 - x), min(max(h, 0.0), 1.0 - y)
        if w <= 0 or h <= 0:
            continue
        source = item.get("source") if item.get("source") in ("auto", "staff") else "staff"
        label = str(item.get("label") or "")[:20]
        boxes.append(Box(x, y, w, h, label=label, source=source).as_dict())
    return boxes


def blur(image: Image.Image, boxes: list[dict]) -> Image.Image:
    """A copy of `image` with every box pixelated and blurred beyond recognition."""
    if not boxes:
        return image
    out = image.copy()
    width, height = out.size
    for box in boxes:
        left = int(box["x"] * width)
        top = int(box["y"] * height)
        right = min(width, max(left + 1, int(round((box["x"] + box["w"]) * width))))
        bottom = min(height, max(top + 1, int(round((box["y"] + box["h"]) * height))))
        region = out.crop((left, top, right, bottom))
        w, h = region.size
        # Pixelate to about 6 blocks across, then smooth the block edges.
        block = max(1, max(w, h) // 6)
        small = region.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
        region = small.resize((w, h), Image.Resampling.NEAREST)
        region = region.filter(ImageFilter.GaussianBlur(radius=max(1, block // 2)))
        out.paste(region, (left, top))
    return out
