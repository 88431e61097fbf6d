"""Reproducible synthetic data (fixed seeds): reports over Dresden's districts, dense in the
centre; events with German titles and descriptions; 12-megapixel photos with EXIF orientation
and GPS. A marker table remembers what was seeded, so a second run reuses it."""

import io
import logging
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection, transaction

logger = logging.getLogger("bench")

SEED = 20260801
CENTRE = (13.7373, 51.0504)  # Dresden Altstadt
CITY_BOX = (13.579, 50.974, 13.966, 51.178)
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
PHOTO_DIR = Path(__file__).resolve().parent.parent / "var" / "bench" / "photos"
VERSION = "v3"  # v2: public_location (the exact point); v3: events over are archived

STATUSES = [
    ("cleared", 0.70),
    ("new", 0.08),
    ("assigned", 0.10),
    ("in_progress", 0.05),
    ("rejected", 0.04),
    ("duplicate", 0.03),
]


def _meta_get(key: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        cursor.execute("SELECT value FROM bench_meta WHERE key = %s", [key])
        row = cursor.fetchone()
    return row[0] if row else None


def _meta_set(key: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, value],
        )


def base_data() -> None:
    """The real Dresden districts, categories, crews and users (as the demo loads them)."""
    from demo.loaders import categories_crews_users_load, districts_load
    from districts.models import District

    if not District.objects.exists():
        logger.info("seed: loading Dresden districts, categories and crews")
        districts_load()
        categories_crews_users_load()


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    x, acc = rng.random(), 0.0
    for value, weight in weighted:
        acc += weight
        if x < acc:
            return value
    return weighted[-1][0]


def _candidate_points(rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Half around the centre (normal, sigma about 2 km), half spread over the city's box."""
    out = []
    for _ in range(count):
        if rng.random() < 0.55:
            lon = rng.gauss(CENTRE[0], 0.030)
            lat = rng.gauss(CENTRE[1], 0.018)
        else:
            lon = rng.uniform(CITY_BOX[0], CITY_BOX[2])
            lat = rng.uniform(CITY_BOX[1], CITY_BOX[3])
        out.append((round(lon, 7), round(lat, 7)))
    return out


DESCRIPTIONS = [
    "Sperrmüll am Straßenrand abgestellt",
    "Wilde Müllablagerung hinter dem Spielplatz",
    "Papierkorb quillt über",
    "Scherben auf dem Radweg",
    "Graffiti an der Hauswand",
    "Altreifen im Gebüsch",
    "Matratze und Sofa neben den Containern",
    "",
]


def reports(n: int) -> int:
    """`n` reports with their district (by the same border rule as the app), categories and
    statuses in realistic shares, created over the two years before EPOCH."""
    key = f"{n}:{SEED}:{VERSION}"
    if _meta_get("reports") == key:
        return 0
    logger.info("seed: %s reports", n)
    rng = random.Random(SEED)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM reports_category ORDER BY code")
            categories = [r[0] for r in cursor.fetchall()]
            cursor.execute("TRUNCATE reports_report CASCADE")
            cursor.execute(
                "CREATE TEMP TABLE bench_pts (i int, lon float8, lat float8, category_id bigint,"
                " status text, created_at timestamptz, description text, confirmations int)"
                " ON COMMIT DROP"
            )
        raw = connection.connection
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY bench_pts (i, lon, lat, category_id, status, created_at, description,"
                " confirmations) FROM STDIN"
            ) as copy,
        ):
            for i, (lon, lat) in enumerate(_candidate_points(rng, int(n * 1.6) + 1000)):
                created = EPOCH - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
                copy.write_row(
                    (
                        i,
                        lon,
                        lat,
                        rng.choice(categories),
                        _pick(rng, STATUSES),
                        created,
                        rng.choice(DESCRIPTIONS),
                        rng.choice((0, 0, 0, 1, 2)),
                    )
                )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO reports_report (location, public_location, category_id, district_id,
                    description,
                    address, zipcode, status, due_at, priority, confirmations_count, attributes,
                    source, reporter_email, reporter_name, reporter_phone, tracking_token,
                    version, created_at, updated_at, closed_at, moderation, moderation_reason,
                    description_hidden_reason, place_name, language)
                SELECT p.geom, p.geom, p.category_id, d.id, p.description, '', '', p.status,
                       p.created_at + interval '3 days', 0, p.confirmations, '{}', 'app',
                       'reporter' || p.i || '@example.org', 'Erika Mustermann',
                       '+49 351 123456', 'bench-token-' || p.i, 1, p.created_at, p.created_at,
                       CASE WHEN p.status IN ('cleared', 'rejected', 'duplicate')
                            THEN p.created_at + interval '2 days' END,
                       CASE WHEN p.i %% 100 = 0 THEN 'pending' ELSE 'published' END, '', '',
                       '', ''

                FROM (SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom
                      FROM bench_pts) p
                JOIN LATERAL (SELECT id FROM districts_district dd
                              WHERE ST_Covers(dd.boundary, p.geom)
                              ORDER BY dd.code LIMIT 1) d ON true
                ORDER BY p.i
                LIMIT %s
                """,
                [n],
            )
            inserted = cursor.rowcount
    vacuum("reports_report")
    _meta_set("reports", key)
    return inserted


TITLE_WORDS = [
    "Flohmarkt",
    "Konzert",
    "Lesung",
    "Stadtführung",
    "Weihnachtsmarkt",
    "Ausstellung",
    "Theater",
    "Kinderfest",
    "Orgelkonzert",
    "Frühjahrsputz",
    "Sperrmüllsammlung",
    "Vortrag",
    "Tanzabend",
    "Filmvorführung",
    "Wochenmarkt",
    "Radtour",
]
TITLE_PLACES = [
    "Altstadt",
    "Neustadt",
    "Elbufer",
    "Großer Garten",
    "Blasewitz",
    "Pieschen",
    "Kreuzkirche",
    "Frauenkirche",
    "Hechtviertel",
    "Striesen",
    "Loschwitz",
    "Prohlis",
]
TITLE_ADJ = ["Großer", "Kleiner", "Festlicher", "Offener", "Dresdner", "Sommerlicher", "Bunter"]
SENTENCES = [
    "Eintritt frei, Spenden willkommen.",
    "Für Familien mit Kindern geeignet.",
    "Die Veranstaltung findet bei jedem Wetter statt.",
    "Anmeldung erbeten, begrenzte Plätze.",
    "Mit Musik, Essen und Getränken aus der Region.",
    "Barrierefreier Zugang über den Seiteneingang.",
    "Treffpunkt ist am Haupteingang.",
    "Veranstaltet vom Ortsbeirat gemeinsam mit Vereinen aus dem Stadtteil.",
    "Bitte eigene Taschen mitbringen.",
    "Die Straßenbahnlinien halten direkt vor dem Veranstaltungsort.",
]
EVENT_CATEGORIES = ["market", "music", "theatre", "exhibition", "festival", "family", "guided_tour"]


def vacuum(*tables: str) -> None:
    """What autovacuum does within a minute of other workloads' writes (reports_report vacuums
    after 1 % of it changed, reports migration 0014), at once: the visibility map and the
    statistics up to date, so an index-only scan (the tile key) does not read the heap."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
        # And what was written flushed: a checkpoint spreading a bulk load's writes over the
        # next minutes would slow whatever is measured then (B10's 2M round, after 3.6M rows).
        cursor.execute("CHECKPOINT")


def events(n: int) -> int:
    """`n` events with German titles and descriptions, half of them still to come."""
    from events.models import Event, Feed
    from events.services import events_archive

    key = f"{n}:{SEED}:{VERSION}"
    if _meta_get("events") == key:
        return 0
    logger.info("seed: %s events", n)
    rng = random.Random(SEED + 1)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event CASCADE")
    feed, _ = Feed.objects.get_or_create(source="bench://synthetic", defaults={"name": "bench"})
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    table = Event._meta.db_table
    columns = (
        'feed_id, uid, recurrence_key, title, description, start, "end", all_day, venue_name,'
        " location, category, keywords, url, organiser, organiser_email, status, created_at,"
        " updated_at"
    )
    with (
        transaction.atomic(),
        connection.connection.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for i in range(n):
            word = rng.choice(TITLE_WORDS)
            title = f"{rng.choice(TITLE_ADJ)} {word} {rng.choice(TITLE_PLACES)}"
            text = " ".join(rng.sample(SENTENCES, 3))
            start = now + timedelta(hours=rng.randint(-365 * 24, 365 * 24))
            lon = rng.gauss(CENTRE[0], 0.04)
            lat = rng.gauss(CENTRE[1], 0.025)
            copy.write_row(
                (
                    feed.pk,
                    f"bench-{i}",
                    "",
                    title,
                    f"{word} in {rng.choice(TITLE_PLACES)}. {text}",
                    start,
                    start + timedelta(hours=rng.randint(1, 6)),
                    False,
                    rng.choice(TITLE_PLACES),
                    f"SRID=4326;POINT({lon:.6f} {lat:.6f})",
                    rng.choice(EVENT_CATEGORIES),
                    word,
                    "",
                    "Stadt Dresden",
                    "",
                    "confirmed",
                    now,
                    now,
                )
            )
    # The half that is over goes into the archive, as the hourly sweep does it.
    events_archive()
    vacuum(table)
    _meta_set("events", key)
    return n


def _dms(value: float) -> tuple:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (degrees, minutes, seconds)


def _photo(index: int, size: tuple[int, int]) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(SEED + 100 + index)
    w, h = size
    # Texture like a photo (not flat colour, not pure noise): gradients plus low-res noise.
    gradient = Image.linear_gradient("L").resize((w, h))
    noise = Image.effect_noise((w // 8, h // 8), 60).resize((w, h), Image.Resampling.BILINEAR)
    radial = Image.radial_gradient("L").resize((w, h))
    image = Image.merge("RGB", (gradient, noise, radial))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randint(0, w - 50), rng.randint(0, h - 50)
        draw.rectangle(
            [x, y, x + rng.randint(40, w // 5), y + rng.randint(40, h // 5)],
            fill=(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)),
        )
    exif = Image.Exif()
    exif[0x0112] = rng.choice((1, 3, 6, 8))
    exif[0x010F] = "BenchCam"
    exif.get_ifd(0x8769)[0xA431] = f"SERIAL{index:05d}"
    exif.get_ifd(0x8769)[0x9003] = "2026:10:20 10:15:00"
    lat = CENTRE[1] + rng.uniform(-0.02, 0.02)
    lon = CENTRE[0] + rng.uniform(-0.03, 0.03)
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", _dms(lat), "E", _dms(lon)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def photos(count: int, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    """`count` JPEGs of 12 MP with EXIF orientation, GPS and a device serial (cached on disk)."""
    folder = PHOTO_DIR / f"{size[0]}x{size[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo{i:03d}.jpg"
        if not path.exists():
            path.write_bytes(_photo(i, size))
        paths.append(path)
    return paths


def heic(source: Path) -> Path:
    """The same photo as HEIC (pillow-heif's encoder), for the HEIC measurement."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    path = source.with_suffix(".heic")
    if not path.exists():
        with Image.open(source) as image:
            image.save(path, "HEIF", quality=80, exif=image.getexif())
    return path


def dense_bbox(target: int) -> tuple[float, float, float, float]:
    """A box around the centre holding about `target` reports (found by bisection)."""
    lo, hi = 0.0001, 0.2
    box = None
    for _ in range(30):
        half = (lo + hi) / 2
        lat_half = half * math.cos(math.radians(CENTRE[1]))
        box = (CENTRE[0] - half, CENTRE[1] - lat_half, CENTRE[0] + half, CENTRE[1] + lat_half)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM reports_report"
                " WHERE public_location && ST_MakeEnvelope(%s,%s,%s,%s,4326)",
                list(box),
            )
            found = cursor.fetchone()[0]
        if abs(found - target) <= target * 0.03:
            break
        if found > target:
            hi = half
        else:
            lo = half
    return box
