"""A fixed corpus of hostile requests: SQL-ish strings in every read parameter, decompression
bombs and disguised files, bad geometry, control characters. Not one answers 500, every refusal
is readable, and nothing is stored from a refused request."""

import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from api.open311.keys import client_create
from reports.models import Report, ReportPhoto
from tests.conftest import NEUSTADT_POINT, jpeg_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SQLISH = [
    "' OR 1=1--",
    "1; DROP TABLE reports_report;--",
    '" OR ""="',
    "1' UNION SELECT NULL,NULL--",
    "') OR ('1'='1",
    "$$; SELECT pg_sleep(5); --",
    "%' AND 1=0 UNION SELECT usename FROM pg_user--",
]

# Every read endpoint and the parameters it reads (and a few it does not).
READS = {
    "anon": [
        ("/api/v1/reports/", ["bbox", "category", "status", "district", "page", "page_size"]),
        ("/api/v1/categories/", ["format"]),
        ("/api/v1/districts/", ["format"]),
        ("/api/v1/route/", ["lat", "lon", "category"]),
        ("/api/v1/reports/nearby/", ["lat", "lon", "category", "radius"]),
        ("/api/v1/addresses/", ["q", "limit"]),
        ("/api/v1/events/", ["q", "from", "to", "category", "near", "page"]),
        ("/api/v1/events/pickups/", ["lat", "lon", "date"]),
        ("/api/v1/map/reports.geojson", ["bbox", "category", "status", "limit", "before"]),
        (
            "/open311/v2/requests.json",
            [
                "service_request_id",
                "service_code",
                "status",
                "start_date",
                "end_date",
                "lat",
                "long",
                "radius",
            ],
        ),
        ("/open311/v2/services.json", ["jurisdiction_id", "lat", "long"]),
        ("/open311/v2/requests/1.json", ["jurisdiction_id"]),
        ("/", ["page", "q", "category", "status"]),
        ("/events/", ["q", "when", "place", "category", "page"]),
        ("/map/reports.geojson", ["bbox", "category", "status"]),
    ],
    "crew": [
        ("/api/v1/crew/tickets/", ["crew", "category", "status", "lat", "lon"]),
        ("/api/v1/crew/plan/", ["crew", "replan"]),
        ("/crew/", ["crew", "category", "status", "lat", "lon"]),
        ("/crew/plan/", ["crew", "at"]),
    ],
    "dispatcher": [
        ("/api/v1/dispatch/tickets/", ["state", "crew", "category", "district", "bbox", "q"]),
        ("/api/v1/dispatch/stats/", ["period", "from", "to", "district", "category", "crew"]),
        ("/api/v1/dispatch/hotspots/", ["days", "radius", "min_reports", "category"]),
        ("/dispatch/", ["state", "crew", "category", "district"]),
        ("/dispatch/stats/", ["period", "from", "to", "district", "category"]),
        ("/dispatch/hotspots/", ["days", "radius", "category"]),
    ],
}

CONTROL = [
    "\x01\x02\x03",
    "\x1b[31mrot\x1b[0m",
    "\u202eevil",
    "\ufeffbom",
    "\x7f",
    "a\rb\nc\td",
    "\x00",
    "x\x00y",
    "\u0085\u2028\u2029",
    "𝕏" * 300,
]


@pytest.fixture(autouse=True)
def _generous_limits(settings):
    settings.REPORT_SUBMIT_RATE_PER_IP = "100000/hour"
    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "100000/hour"
    settings.OPEN311_POST_RATE_PER_IP = "100000/hour"
    settings.OPEN311_POST_RATE_PER_KEY = "100000/hour"
    settings.REPORT_SUBMIT_RATE = "100000/hour"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clients(dispatcher):
    crew = Client()
    crew.force_login(UserFactory(username="crew-nord"))
    disp = Client()
    disp.force_login(dispatcher)
    return {"anon": Client(), "crew": crew, "dispatcher": disp}


def _problem(response, label: str) -> str | None:
    """None when the answer is acceptable: below 500, and a refusal says something."""
    if response.status_code >= 500:
        return f"{label}: {response.status_code}"
    if 400 <= response.status_code < 500:
        body = b"".join(response) if getattr(response, "streaming", False) else response.content
        if len(body.strip()) < 10:
            return f"{label}: {response.status_code} with an empty body"
    return None


def _stored() -> tuple[int, int]:
    return Report.objects.count(), ReportPhoto.objects.count()


def test_sql_ish_strings_in_every_read_parameter(clients):
    clients["anon"].raise_request_exception = False
    problems, sent = [], 0
    before = _stored()
    for who, endpoints in READS.items():
        client = clients[who]
        client.raise_request_exception = False
        for url, params in endpoints:
            for param in params:
                for payload in SQLISH:
                    response = client.get(url, {param: payload})
                    sent += 1
                    problem = _problem(response, f"{who} GET {url}?{param}={payload!r}")
                    if problem:
                        problems.append(problem)
    assert problems == []
    assert _stored() == before
    assert sent >= 500, sent


def _png_bomb() -> bytes:
    """Tiny file, 144 megapixels once decoded (PHOTO_MAX_PIXELS is 50)."""
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _gif_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("P", (9000, 9000)).save(out, "GIF")
    return out.getvalue()


def _bad_files() -> list[tuple[str, bytes, str]]:
    jpeg = jpeg_bytes()
    return [
        ("bomb.png", _png_bomb(), "image/png"),
        ("bomb.gif", _gif_bomb(), "image/gif"),
        ("invoice.jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "image/jpeg"),
        ("page.png", b"<html><script>alert(1)</script></html>", "image/png"),
        ("archive.jpg", b"PK\x03\x04" + b"\x00" * 200, "image/jpeg"),
        ("program.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "image/jpeg"),
        ("empty.jpg", b"", "image/jpeg"),
        ("truncated.jpg", jpeg[:300], "image/jpeg"),
        ("header-only.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
            "image/svg+xml",
        ),
        ("photo.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100, "image/heic"),
    ]


def test_bombs_and_disguised_files_are_refused_and_nothing_is_stored(clients):
    key = client_create(name="corpus")[1]
    point = {"lat": str(NEUSTADT_POINT.y), "lon": str(NEUSTADT_POINT.x)}
    problems, sent = [], 0
    client = Client(headers={"Accept-Language": "en"})
    client.raise_request_exception = False
    for name, content, content_type in _bad_files():
        targets = [
            ("/api/v1/reports/", {"category": "litter", **point}, "photo"),
            ("/report/new/", {"category": "litter", **point}, "photo"),
            (
                "/open311/v2/requests.json",
                {
                    "api_key": key,
                    "service_code": "litter",
                    "lat": point["lat"],
                    "long": point["lon"],
                },
                "media",
            ),
        ]
        for url, data, field in targets:
            before = _stored()
            upload = SimpleUploadedFile(name, content, content_type=content_type)
            response = client.post(url, {**data, field: upload})
            sent += 1
            label = f"POST {url} {field}={name}"
            if response.status_code < 400:
                problems.append(f"{label}: accepted ({response.status_code})")
            elif problem := _problem(response, label):
                problems.append(problem)
            if _stored() != before:
                problems.append(f"{label}: stored something")
    assert problems == []
    assert sent == 33


BAD_POINTS = [
    ("91", "13.7"),
    ("-91", "13.7"),
    ("51.05", "181"),
    ("nan", "nan"),
    ("inf", "13.7"),
    ("1e309", "13.7"),
    ("51,05", "13,7"),
    ("0", "0"),
    ("", "13.7"),
    ("51.05", ""),
    ("51.05", "abc"),
    ("0x33", "13.7"),
    ("[51]", "{13}"),
    ("51.05" * 50, "13.7"),
    ("-0", "-0"),
    ("51.05e0", "13.73e0"),
]
BAD_BBOXES = [
    "1,2,3",
    "a,b,c,d",
    "13.9,51.1,13.6,50.9",
    "-180,-90,180,90",
    "nan,nan,nan,nan",
    "1e309,0,0,0",
    "13.7,51,13.7,51",
    ",,,",
    "13.7;51;13.8;51.1",
    "1,2,3,4,5",
]


def test_bad_geometry_never_answers_500_and_a_refusal_stores_nothing():
    key = client_create(name="geometry")[1]
    client = Client(headers={"Accept-Language": "en"})
    client.raise_request_exception = False
    problems, sent = [], 0
    for lat, lon in BAD_POINTS:
        for url, data in (
            ("/api/v1/reports/", {"category": "litter", "lat": lat, "lon": lon}),
            ("/report/new/", {"category": "litter", "lat": lat, "lon": lon}),
            (
                "/open311/v2/requests.json",
                {"api_key": key, "service_code": "litter", "lat": lat, "long": lon},
            ),
        ):
            before = _stored()
            response = client.post(url, data)
            sent += 1
            label = f"POST {url} lat={lat!r} lon={lon!r}"
            if problem := _problem(response, label):
                problems.append(problem)
            if response.status_code >= 400 and _stored() != before:
                problems.append(f"{label}: refused but stored")
        for url in ("/api/v1/route/", "/api/v1/reports/nearby/"):
            response = client.get(url, {"lat": lat, "lon": lon, "category": "litter"})
            sent += 1
            if problem := _problem(response, f"GET {url} lat={lat!r} lon={lon!r}"):
                problems.append(problem)
    for bbox in BAD_BBOXES:
        for url in ("/api/v1/reports/", "/api/v1/map/reports.geojson", "/map/reports.geojson"):
            response = client.get(url, {"bbox": bbox})
            sent += 1
            if problem := _problem(response, f"GET {url} bbox={bbox!r}"):
                problems.append(problem)
    assert problems == []
    assert sent == len(BAD_POINTS) * 5 + len(BAD_BBOXES) * 3


def test_control_characters_in_text_fields_and_parameters(clients):
    key = client_create(name="control")[1]
    client = Client(headers={"Accept-Language": "en"})
    client.raise_request_exception = False
    point = {"lat": str(NEUSTADT_POINT.y), "lon": str(NEUSTADT_POINT.x)}
    problems, sent = [], 0
    for text in CONTROL:
        for url, data in (
            ("/api/v1/reports/", {"category": "litter", **point, "description": text}),
            ("/api/v1/reports/", {"category": text, **point}),
            ("/api/v1/reports/", {"category": "litter", **point, "email": text}),
            ("/report/new/", {"category": "litter", **point, "place": text}),
            (
                "/open311/v2/requests.json",
                {
                    "api_key": key,
                    "service_code": "litter",
                    "lat": point["lat"],
                    "long": point["lon"],
                    "first_name": text,
                    "address_string": text,
                },
            ),
            ("/api/v1/crew/token/", {"username": text, "password": text}),
            ("/accounts/login/", {"username": text, "password": text}),
        ):
            before = _stored()
            response = client.post(url, data)
            sent += 1
            label = f"POST {url} with {text[:20]!r}"
            if problem := _problem(response, label):
                problems.append(problem)
            if response.status_code >= 400 and _stored() != before:
                problems.append(f"{label}: refused but stored")
        for url, param in (("/api/v1/events/", "q"), ("/events/", "q"), ("/r/x/", "new")):
            response = client.get(url, {param: text})
            sent += 1
            if problem := _problem(response, f"GET {url}?{param}={text[:20]!r}"):
                problems.append(problem)
        response = client.get(f"/r/{text}/")
        sent += 1
        if problem := _problem(response, f"GET /r/{text[:20]!r}/"):
            problems.append(problem)
    assert problems == []
    assert sent == len(CONTROL) * 11
