import io
import os
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from civicmap.celery import app as celery_app
from demo.loaders import categories_crews_users_load, districts_load
from districts.models import District, ServiceArea

# Playwright's sync API runs an event loop in the test thread; the ORM calls made there are
# still plain synchronous test code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Tests run tasks in-process unless a test starts a real worker; they never share the broker
# database of a running `make run`.
TEST_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
# Under pytest-xdist (-n 2) each test process needs a broker database of its own, or one test's
# real worker would take the other's tasks: gw1 uses the next database number, and so on.
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
if _xdist.isdigit() and int(_xdist) and TEST_BROKER_URL.rsplit("/", 1)[-1].isdigit():
    _base, _number = TEST_BROKER_URL.rsplit("/", 1)
    TEST_BROKER_URL = f"{_base}/{(int(_number) + int(_xdist)) % 16}"
# Celery lets the CELERY_BROKER_URL variable win over app.conf, so set both.
os.environ["CELERY_BROKER_URL"] = TEST_BROKER_URL
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True
celery_app.conf.broker_url = TEST_BROKER_URL
# Rate limits count in the shared Redis cache: each test process (and each run) counts under a
# prefix of its own, so one process's cache.clear() or a run an hour ago never moves another's
# counts. Subprocesses started by tests inherit it through the environment.
os.environ["CACHE_KEY_PREFIX"] = f"test:{uuid.uuid4().hex[:12]}:gw{_xdist}"
if "KEY_PREFIX" in django_settings.CACHES["default"]:
    django_settings.CACHES["default"]["KEY_PREFIX"] = os.environ["CACHE_KEY_PREFIX"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The real Dresden districts, city boundary, categories and crews, loaded once."""
    with django_db_blocker.unblock():
        districts_load()
        categories_crews_users_load()


@pytest.fixture
def dispatcher(db):
    """A member of the dispatchers' group."""
    from django.contrib.auth.models import Group

    from crews.models import DISPATCHER_GROUP
    from tests.factories import UserFactory

    user = UserFactory(username="disp", email="disp@stadt.example")
    user.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
    return user


@pytest.fixture
def ticket(db):
    """A resident's report with full contact data, routed and handed to its crew."""
    from crews.services import report_dispatch
    from reports.services import report_create

    report, _ = report_create(
        category="litter",
        location=NEUSTADT_POINT,
        description="Müll am Zaun, Anruf bei Herrn Meier",
        email="anwohner@example.org",
        reporter_name="Erika Muster",
        reporter_phone="0351 1234567",
    )
    report_dispatch(report=report)
    return report


@pytest.fixture
def local_tiles_cache(settings):
    """The tile cache (and the default cache) in this process's memory, empty: tile tests see
    exactly what their own requests cached, never another run's Redis entries."""
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "tiles": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "test-tiles",
        },
    }
    caches["tiles"].clear()
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "public", "base_url": "/media/"},
        },
        "private": {
            "BACKEND": "core.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _english_unless_asked(settings):
    """Tests read English messages unless they ask for a language: the app's default is German
    (and the German catalogue is compiled); browser pages ask for German by their locale."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def squares(db):
    """Two unit squares side by side (x 0..1 and 1..2): the point x = 1 lies on their border.

    Dresden is removed inside this test's transaction so only the squares route.
    """
    ServiceArea.objects.all().delete()
    District.objects.all().delete()
    west = District.objects.create(
        code="a-west",
        name="West",
        boundary=MultiPolygon(Polygon.from_bbox((0, 0, 1, 1)), srid=4326),
    )
    east = District.objects.create(
        code="b-east",
        name="East",
        boundary=MultiPolygon(Polygon.from_bbox((1, 0, 2, 1)), srid=4326),
    )
    return west, east


# Known places and the district each must route to (SOURCES.md "known-place checks").
NEUSTADT_POINT = Point(13.7535, 51.0655, srid=4326)  # Alaunpark edge, Äußere Neustadt
BERLIN_POINT = Point(13.4050, 52.5200, srid=4326)


def jpeg_bytes(
    size=(800, 600), colour=(120, 140, 90), exif: Image.Exif | None = None, quality: int = 85
) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    # A mark in the top-left corner so orientation can be checked after processing.
    image.paste((255, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
    image.save(out, "JPEG", quality=quality, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


def gps_exif(lat: float, lon: float, orientation: int | None = None, serial: str | None = None):
    exif = Image.Exif()

    def dms(value: float):
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
        return (degrees, minutes, seconds)

    gps = exif.get_ifd(0x8825)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = dms(lat)
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = dms(lon)
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    if serial:
        exif.get_ifd(0x8769)[0xA431] = serial  # BodySerialNumber
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 10:15:00"  # DateTimeOriginal
    return exif


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def dresden_committed(transactional_db):
    """For tests whose data must be committed (real worker, browser, concurrent connections):
    a transactional test empties every table afterwards, so reload the Dresden base data."""
    if not District.objects.exists():
        districts_load()
    categories_crews_users_load()


def database_url_for_subprocess() -> str:
    from django.db import connection

    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgis://{s['USER']}{password}@{host}/{s['NAME']}"
