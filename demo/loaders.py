"""The Dresden demo data set: it puts every domain app together, so it lives above them."""

import io
import json
import logging
import random
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from crews.models import DISPATCHER_GROUP, Crew, Responsibility
from crews.services import report_dispatch
from districts.models import District
from districts.services import address_import, district_import, service_area_import
from reports.models import Category, Report
from reports.services import report_create, report_transition

logger = logging.getLogger(__name__)

FIXTURES = settings.BASE_DIR / "fixtures"
DISTRICTS_FILE = FIXTURES / "dresden_districts.geojson"
CITY_FILE = FIXTURES / "dresden_city.geojson"
DEMO_FILE = FIXTURES / "demo_dresden.json"
ADDRESSES_FILE = FIXTURES / "demo_addresses.csv"
SAMPLE_REPORTS = 49
# The Open311 API key of the demo data (never use it on a real installation).
OPEN311_DEMO_KEY = "civicmap-demo-key"

DESCRIPTIONS = {
    "litter": ["Viel Müll an der Haltestelle", "Verschmutzte Ecke hinter dem Spielplatz"],
    "bulky_waste": ["Sofa und Matratze am Straßenrand", "Alter Kühlschrank neben dem Container"],
    "glass": ["Scherben auf dem Radweg", "Zerbrochene Flaschen am Elbufer"],
    "overflowing_bin": ["Papierkorb quillt über", "Mülleimer seit Tagen voll"],
    "graffiti": ["Schmiererei an der Brücke", "Graffiti am Trafohäuschen"],
    "hazardous": ["Ölkanister im Gebüsch", "Farbeimer abgestellt"],
}


def districts_load(*, path: Path = DISTRICTS_FILE, city: Path = CITY_FILE) -> None:
    district_import(path=path, name_field="name", kind_field="art", parent_field="stadtbezirk")
    service_area_import(path=city, code="dresden", name="Dresden")


@transaction.atomic
def categories_crews_users_load(*, data: dict | None = None) -> None:
    data = data or json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    for item in data["categories"]:
        fields = {k: v for k, v in item.items() if k != "code"}
        Category.objects.update_or_create(code=item["code"], defaults=fields)
    dispatchers, _ = Group.objects.get_or_create(name=DISPATCHER_GROUP)
    password = data["password"]
    for item in data["users"]:
        user, created = User.objects.get_or_create(username=item["username"])
        if created:
            user.set_password(password)
        if item["role"] == "admin":
            user.is_staff = user.is_superuser = True
        if item["role"] == "dispatcher":
            user.is_staff = True
            user.groups.add(dispatchers)
        user.save()
    for item in data["crews"]:
        crew, _ = Crew.objects.update_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "email": item["email"],
                "depot": Point(*item["depot"], srid=4326),
            },
        )
        member, created = User.objects.get_or_create(username=item["member"])
        if created:
            member.set_password(password)
            member.save()
        crew.members.add(member)
        categories = [None]
        if item["categories"]:
            categories = list(Category.objects.filter(code__in=item["categories"]))
        for district in District.objects.filter(code__in=item["districts"]):
            for category in categories:
                Responsibility.objects.get_or_create(
                    crew=crew, district=district, category=category
                )


def _demo_photo(seed: int, label: str) -> SimpleUploadedFile:
    rng = random.Random(seed)
    image = Image.new("RGB", (960, 720), (rng.randint(90, 160), rng.randint(90, 140), 90))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, 900), rng.randint(200, 680)
        draw.rectangle(
            [x, y, x + rng.randint(30, 180), y + rng.randint(20, 90)],
            fill=(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)),
        )
    draw.text((24, 24), f"Demo: {label}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return SimpleUploadedFile(f"demo{seed}.jpg", out.getvalue(), content_type="image/jpeg")


def german_plate(text: str = "DD·CM 2026", height: int = 60) -> Image.Image:
    """A rendered German number plate: black letters on white, the blue EU band on the left."""
    from PIL import ImageFont

    width = int(height * 4.7)
    plate = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(plate)
    draw.rectangle([0, 0, width - 1, height - 1], outline="black", width=max(3, height // 20))
    draw.rectangle([4, 4, int(height * 0.42), height - 5], fill=(0, 51, 153))
    font = ImageFont.load_default(size=int(height * 0.72))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    band = int(height * 0.5)
    draw.text(
        (band + (width - band - (right - left)) // 2 - left, (height - (bottom - top)) // 2 - top),
        text,
        fill="black",
        font=font,
    )
    return plate


def privacy_demo_photo() -> bytes:
    """A street photo with a passer-by's face (scikit-image's astronaut, a NASA photo in the
    public domain) and a parked car with a German number plate, next to a dumped sofa."""
    from skimage import data

    scene = Image.new("RGB", (1280, 860), (150, 160, 170))
    draw = ImageDraw.Draw(scene)
    draw.rectangle([0, 600, 1280, 860], fill=(95, 95, 100))  # pavement
    scene.paste(Image.fromarray(data.astronaut()).resize((420, 420)), (40, 180))
    draw.rectangle([560, 470, 1220, 760], fill=(40, 42, 48))  # the car's rear
    draw.rectangle([620, 400, 1160, 480], fill=(70, 80, 95))  # rear window
    plate = german_plate(height=62)
    scene.paste(plate, (890 - plate.width // 2, 640))
    draw.rectangle([480, 700, 700, 800], fill=(120, 70, 40))  # the dumped sofa
    out = io.BytesIO()
    scene.save(out, "JPEG", quality=90)
    return out.getvalue()


def privacy_demo_load() -> int:
    """Issue 9 in the demo: a photo with a face and a number plate (blurred publicly, sharp for
    staff), and the pre-moderated, coarse "hazardous" category: most of its reports approved,
    the newest left waiting in the moderation queue."""
    from reports.services import report_moderate

    if Report.objects.filter(description__startswith=PRIVACY_MARK).exists():
        return 0
    photo = SimpleUploadedFile("street.jpg", privacy_demo_photo(), content_type="image/jpeg")
    report, _ = report_create(
        category="bulky_waste",
        location=Point(13.7412, 51.0530, srid=4326),
        description=f"{PRIVACY_MARK}: Sofa neben einem parkenden Auto",
        photos=[photo],
        email="anwohnerin@example.org",
    )
    report_dispatch(report=report)
    pending = list(
        Report.objects.filter(moderation=Report.Moderation.PENDING).order_by("-created_at")
    )
    for waiting in pending[1:]:
        report_moderate(report=waiting, action="approve", reason="Demo")
    return 1


PRIVACY_MARK = "Demo-Datenschutz"


def _sample_points(count: int, seed: int) -> list[tuple[float, float]]:
    """Points spread over the districts, more of them in the dense inner districts."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ST_X(geom), ST_Y(geom) FROM (
              SELECT (ST_Dump(ST_GeneratePoints(boundary,
                        CASE WHEN kind = 'Stadtbezirk' THEN %s ELSE 1 END, %s))).geom
              FROM districts_district ORDER BY code
            ) points
            """,
            [max(1, (count - 9) // 10), seed],
        )
        return [(x, y) for x, y in cursor.fetchall()][:count]


def sample_reports_load(*, count: int = SAMPLE_REPORTS, seed: int = 2026) -> int:
    """A few dozen reports over the last three weeks, in every state. Loaded once."""
    if Report.objects.exists():
        return 0
    rng = random.Random(seed)
    categories = list(Category.objects.filter(active=True))
    crew_user = User.objects.filter(crews__isnull=False).first()
    now = timezone.now()
    made = 0
    for number, (lon, lat) in enumerate(_sample_points(count, seed)):
        category = categories[number % len(categories)]
        text = rng.choice(DESCRIPTIONS.get(category.code, ["Bitte beseitigen"]))
        photos = (
            [_demo_photo(number, category.name_de)]
            if number % 3 == 0 or category.photo_required
            else []
        )
        report, _ = report_create(
            category=category,
            location=Point(lon, lat, srid=4326),
            description=text,
            photos=photos,
            email=f"anwohner{number}@example.org" if number % 4 == 0 else "",
        )
        created_at = now - timedelta(hours=rng.randint(1, 21 * 24))
        Report.objects.filter(pk=report.pk).update(created_at=created_at)
        report.refresh_from_db()
        report_dispatch(report=report, now=created_at)
        report.refresh_from_db()
        fate = rng.random()
        if report.status == Report.Status.ASSIGNED and fate < 0.35:
            report = report_transition(report=report, to=Report.Status.IN_PROGRESS, actor=crew_user)
            if fate < 0.2:
                report_transition(
                    report=report, to=Report.Status.CLEARED, actor=crew_user, note="Beseitigt."
                )
        made += 1
    return made


def open311_demo_key_load() -> None:
    """The fixed demo API key for Open311 clients (idempotent; re-activated if revoked)."""
    call_command(
        "open311_keys",
        "create",
        "--name",
        "civicmap demo client",
        "--key",
        OPEN311_DEMO_KEY,
        "--if-missing",
        stdout=io.StringIO(),
    )


def events_demo_load() -> int:
    """Dresden venues and the demo event calendar; repeating it updates the same events."""
    from events.services import feed_import, venues_import

    venues_import(path=FIXTURES / "dresden_venues.csv")
    data = (FIXTURES / "dresden_events.ics").read_bytes()
    return feed_import(source="dresden-demo", data=data).total


HOTSPOT_MARK = "Demo-Hotspot"


def dispatch_demo_load() -> int:
    """A chronic dirty corner (five reports at the Alaunpark over three weeks) and fresh tickets
    in every deadline state for the dispatcher map: unassigned, due within 24 h, on time."""
    if Report.objects.filter(description__startswith=HOTSPOT_MARK).exists():
        return 0
    now = timezone.now()
    crew_user = User.objects.filter(crews__code="nord").first()
    offsets = [(0, 0), (0.0002, 0.0001), (-0.0001, 0.0002), (0.0001, -0.0002), (0.0003, 0.0002)]
    ages = [timedelta(days=20), timedelta(days=13), timedelta(days=8), timedelta(days=4)]
    ages.append(timedelta(hours=2))
    made = []
    for (dx, dy), age in zip(offsets, ages, strict=True):
        made.append(
            (f"{HOTSPOT_MARK}: Müll an der Parkecke", "litter", (13.7548 + dx, 51.0668 + dy), age)
        )
    oberwartha = District.objects.filter(code="oberwartha").first()
    if oberwartha is not None:
        spot = oberwartha.boundary.point_on_surface
        made.append(("Müll am Waldweg (kein Team zuständig)", "litter", (spot.x, spot.y), age))
    made.append(("Scherben an der Haltestelle", "glass", (13.7301, 51.0537), timedelta(hours=3)))
    for text, category, (lon, lat), age in made:
        report, _ = report_create(
            category=category, location=Point(lon, lat, srid=4326), description=text
        )
        Report.objects.filter(pk=report.pk).update(created_at=now - age)
        report.refresh_from_db()
        report_dispatch(report=report, now=report.created_at)
        if age >= timedelta(days=8) and crew_user is not None:
            report.refresh_from_db()
            report_transition(
                report=report, to=Report.Status.CLEARED, actor=crew_user, note="Beseitigt."
            )
    return len(made)


def addresses_load(*, path: Path = ADDRESSES_FILE) -> int:
    """A few real Dresden addresses (approximate positions) for the form's address search."""
    return address_import(path=path).created


def demo_load() -> dict:
    districts_load()
    categories_crews_users_load()
    addresses_load()
    open311_demo_key_load()
    events_demo_load()
    return {"reports": sample_reports_load() + dispatch_demo_load() + privacy_demo_load()}


def demo_logins() -> list[tuple[str, str, str]]:
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    rows = [(u["username"], data["password"], u["role"]) for u in data["users"]]
    rows += [(c["member"], data["password"], f"crew member: {c['name']}") for c in data["crews"]]
    return rows
