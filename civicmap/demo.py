"""The Dresden demo data set: wiring across apps, so it lives with the project, not in one app."""

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
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from crews.models import Crew, Responsibility
from crews.services import report_dispatch
from districts.models import District
from districts.services import district_import, service_area_import
from reports.models import Category, Report
from reports.services import report_create, report_transition

logger = logging.getLogger(__name__)

FIXTURES = settings.BASE_DIR / "fixtures"
DISTRICTS_FILE = FIXTURES / "dresden_districts.geojson"
CITY_FILE = FIXTURES / "dresden_city.geojson"
DEMO_FILE = FIXTURES / "demo_dresden.json"
DISPATCHER_GROUP = "dispatchers"
SAMPLE_REPORTS = 49

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


def demo_load() -> dict:
    districts_load()
    categories_crews_users_load()
    return {"reports": sample_reports_load()}


def demo_logins() -> list[tuple[str, str, str]]:
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    rows = [(u["username"], data["password"], u["role"]) for u in data["users"]]
    rows += [(c["member"], data["password"], f"crew member: {c['name']}") for c in data["crews"]]
    return rows
