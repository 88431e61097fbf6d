"""The public copies of a 12 MP phone photo (the JPEG draft, shrink and turn path of
`open_upright`): every EXIF orientation shown upright at PHOTO_PUBLIC_MAX_PX, the same picture
as a plain full decode would give, and nothing of the original's metadata left; and faces and
plates found on such a photo at the sizes and tilts a phone takes them."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from skimage import data as skdata

from demo.loaders import german_plate
from reports.photos import open_upright, render_public_copies
from reports.redaction import detect
from tests.conftest import gps_exif

SIZE = (4000, 3000)
SECRETS = (b"SN-4711", b"TestCam", b"GPS", b"Exif", b"secret-xmp", b"secret-comment", b"ICCX")


def _phone_photo(orientation: int) -> bytes:
    """4000x3000 as stored: quadrants of four colours (so any wrong turn or flip shows), GPS and
    a device serial in EXIF, plus an ICC profile, XMP and a JPEG comment."""
    image = Image.new("RGB", SIZE, (40, 40, 40))
    draw = ImageDraw.Draw(image)
    w, h = SIZE
    draw.rectangle([0, 0, w // 2, h // 2], fill=(230, 30, 30))
    draw.rectangle([w // 2, 0, w, h // 2], fill=(30, 200, 30))
    draw.rectangle([0, h // 2, w // 2, h], fill=(30, 30, 220))
    exif = gps_exif(51.0655, 13.7535, orientation=orientation, serial="SN-4711")
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=90,
        exif=exif,
        icc_profile=b"ICCX" * 64,
        xmp=b"<x:xmpmeta>secret-xmp</x:xmpmeta>",
        comment=b"secret-comment",
    )
    return out.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_public_copy_of_a_12_mp_photo_is_upright_right_sized_and_without_metadata(orientation):
    data = _phone_photo(orientation)
    rendered = render_public_copies(data)
    public = Image.open(io.BytesIO(rendered.public_jpeg))
    thumb = Image.open(io.BytesIO(rendered.thumbnail_jpeg))
    turned = orientation >= 5
    assert public.size == ((1200, 1600) if turned else (1600, 1200))
    assert thumb.size == ((240, 320) if turned else (320, 240))
    assert (rendered.width, rendered.height) == public.size
    # The same picture as a plain full decode, turned by Pillow and scaled down.
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    for copy in (public, thumb):
        reference = np.asarray(expected.resize(copy.size, Image.Resampling.BOX), dtype=np.int16)
        got = np.asarray(copy.convert("RGB"), dtype=np.int16)
        assert np.abs(got - reference).mean() < 3
    for raw, image in ((rendered.public_jpeg, public), (rendered.thumbnail_jpeg, thumb)):
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
        for secret in SECRETS:
            assert secret not in raw


def _street_photo() -> tuple[bytes, list[tuple[str, tuple[int, int, int, int]]]]:
    """A 12 MP photo with faces (scikit-image's astronaut, public domain) and German plates at
    several sizes and tilts; returns the JPEG and, for each, a label and the box that must be
    blurred (the face from the eyebrows to the chin, the plate's lettering) in pixels of the
    1600 px public copy."""
    scene = Image.fromarray(skdata.coffee()).convert("RGB").resize(SIZE)
    draw = ImageDraw.Draw(scene)
    scale = SIZE[0] / 1600
    objects = []
    head = Image.fromarray(skdata.astronaut()).crop((140, 20, 340, 230))
    face = (190 - 140, 80 - 20, 270 - 140, 175 - 20)  # eyebrows to chin, in the crop
    for (left, top), height in (((300, 300), 40), ((1700, 400), 70), ((2900, 200), 140)):
        factor = height * scale / (face[3] - face[1])
        pasted = head.resize((round(head.width * factor), round(head.height * factor)))
        scene.paste(pasted, (left, top))
        box = (left + face[0] * factor, top + face[1] * factor, left + face[2] * factor,
               top + face[3] * factor)  # fmt: skip
        objects.append(("face", tuple(round(v / scale) for v in box)))
    plates = (((700, 2300), 30, 0), ((2000, 2400), 48, 5), ((3300, 2200), 64, -5))
    for (cx, cy), height, angle in plates:
        plate = german_plate(height=round(height * scale))
        # What must be unreadable: the middle of the plate, 80 % of its width, 60 % of its height.
        text = (cx - plate.width * 0.4, cy - plate.height * 0.3, cx + plate.width * 0.4,
                cy + plate.height * 0.3)  # fmt: skip
        if angle:
            plate = plate.rotate(angle, expand=True, fillcolor=(40, 40, 45))
        draw.rectangle(
            [cx - plate.width, cy - plate.height * 2, cx + plate.width, cy + plate.height * 2],
            fill=(40, 40, 45),
        )
        scene.paste(plate, (cx - plate.width // 2, cy - plate.height // 2))
        objects.append(("plate", tuple(round(v / scale) for v in text)))
    out = io.BytesIO()
    scene.save(out, "JPEG", quality=88)
    return out.getvalue(), objects


def test_faces_and_plates_on_a_12_mp_photo_are_found_at_several_sizes_and_tilts():
    data, objects = _street_photo()
    image = open_upright(data)
    assert image.size == (1600, 1200)
    boxes = detect(image)
    mask = np.zeros((1200, 1600), dtype=bool)
    for b in boxes:
        left, top = int(b.x * 1600), int(b.y * 1200)
        mask[top : int((b.y + b.h) * 1200) + 1, left : int((b.x + b.w) * 1600) + 1] = True
    for label, (left, top, right, bottom) in objects:
        assert mask[top:bottom, left:right].mean() > 0.95, (label, (left, top, right, bottom))
