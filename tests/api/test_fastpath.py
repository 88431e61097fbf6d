"""The public map's pages and popups answered by the thin ASGI handler (api/fastpath.py) must be
exactly what the Django views answer: same status, bytes, ETag, caching and next-page link, the
same protections; anything else goes to Django."""

import asyncio
import json

import pytest
from django.contrib.gis.geos import Point
from django.test import Client

from api.fastpath import MapReads
from reports.models import Category, Report

PRIVATE_EMAIL = "anwohner@example.org"


@pytest.fixture
def committed_reports(dresden_committed):
    """Committed rows: the handler reads through its own connection pool."""
    bulky = Category.objects.get(code="bulky_waste")
    other = Category.objects.exclude(code="bulky_waste").first()
    made = [
        Report.objects.create(
            location=Point(13.70 + n * 0.01, 51.02 + n * 0.005, srid=4326),
            category=bulky if n % 2 else other,
            status=Report.Status.NEW if n % 3 else Report.Status.ASSIGNED,
            description="Sofa am Straßenrand",
            reporter_email=PRIVATE_EMAIL,
        )
        for n in range(7)
    ]
    Report.objects.filter(pk=made[0].pk).update(moderation=Report.Moderation.PENDING)
    return made


class Fallback:
    def __init__(self):
        self.paths = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def _call(path: str, query: str = "", headers: dict | None = None, method: str = "GET"):
    fallback = Fallback()
    app = MapReads(fallback=fallback)
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    async def go():
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        try:
            await app(scope, receive, send)
        finally:
            await app.close()

    asyncio.run(go())
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert not messages[-1].get("more_body", False)
    _call.body_messages = len(messages) - 1
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, fallback


def _django(path: str, query: str = "", headers: dict | None = None):
    response = Client().get(
        f"{path}?{query}" if query else path,
        headers=headers or {},
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, response.headers, body


SAME_HEADERS = [
    "Content-Type",
    "ETag",
    "Cache-Control",
    "Link",
    "Last-Modified",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
]


def _assert_same(path: str, query: str = "", headers: dict | None = None) -> bytes:
    status, fast_headers, body, fallback = _call(path, query, headers)
    assert fallback.paths == [], "the handler passed a request it should answer to Django"
    django_status, django_headers, django_body = _django(path, query, headers)
    assert (status, body) == (django_status, django_body)
    for name in SAME_HEADERS:
        assert fast_headers.get(name.lower()) == django_headers.get(name), name
    assert "content-security-policy" in fast_headers
    return body


PAGE_QUERIES = [
    "",  # the whole layer
    "bbox=13.69,51.01,13.75,51.05",
    "status=new&category=bulky_waste",
    "before=5",  # without limit: ignored, the whole layer
    "limit=3",
    "limit=50",
    "limit=2&status=new",
    "category=bulky_waste&limit=2",
    "limit=2&bbox=13.69,51.01,13.75,51.05",
    "limit=3&before=999999999",
    "limit=0",
    "limit=abc",
    "limit=2&bbox=1,2,3",
]


def test_pages_are_byte_for_byte_what_django_answers(committed_reports):
    # One test for all queries: each transactional test reloads Dresden, which costs seconds.
    for query in PAGE_QUERIES:
        _assert_same("/api/v1/map/reports.geojson", query)


def test_following_the_next_links_walks_every_published_report_once(committed_reports):
    seen, query = [], "limit=2&status=new,assigned"
    while True:
        status, headers, body, _ = _call("/api/v1/map/reports.geojson", query)
        assert status == 200
        seen += [f["properties"]["id"] for f in json.loads(body)["features"]]
        if "link" not in headers:
            break
        query = headers["link"].split("?", 1)[1].split(">", 1)[0]
    published = Report.objects.published().order_by("-id").values_list("id", flat=True)
    assert seen == list(published)
    assert committed_reports[0].pk not in seen  # pending approval: never on the public map


def test_a_popup_is_what_django_answers_and_never_carries_contact_data(committed_reports):
    body = _assert_same(f"/api/v1/map/reports/{committed_reports[3].pk}.geojson")
    assert PRIVATE_EMAIL.encode() not in body
    assert b"Sofa" not in body  # descriptions are not part of the map feature
    # Pending approval and missing: 404, like Django.
    _assert_same(f"/api/v1/map/reports/{committed_reports[0].pk}.geojson")
    _assert_same("/api/v1/map/reports/987654321.geojson")


def test_a_revalidation_with_the_etag_is_a_304_without_body(committed_reports):
    path = f"/api/v1/map/reports/{committed_reports[2].pk}.geojson"
    _, headers, _, _ = _call(path)
    status, again, body, _ = _call(path, headers={"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    assert again["etag"] == headers["etag"]


def test_the_whole_layer_is_sent_in_chunks_as_the_database_writes_it(
    committed_reports, monkeypatch
):
    monkeypatch.setattr("api.geo_views.FETCH_ROWS", 2)
    published = list(Report.objects.published().order_by("-id").values_list("id", flat=True))
    for server_side_above in (2, 1000):  # a server-side cursor, then a plain one
        monkeypatch.setattr("api.geo_views.SERVER_SIDE_ROWS", server_side_above)
        status, headers, body, _ = _call("/api/v1/map/reports.geojson")
        assert status == 200
        assert _call.body_messages == 4  # 6 published reports in 3 chunks, then "]}"
        assert [f["properties"]["id"] for f in json.loads(body)["features"]] == published
    status, _, body, _ = _call(
        "/api/v1/map/reports.geojson", headers={"If-None-Match": headers["etag"]}
    )
    assert (status, body) == (304, b"")
    changed = committed_reports[1]
    changed.status = Report.Status.CLEARED
    changed.save()  # as every service does: updated_at moves
    status, _, _, _ = _call(
        "/api/v1/map/reports.geojson", headers={"If-None-Match": headers["etag"]}
    )
    assert status == 200  # a changed report changes the layer's ETag


def test_everything_else_goes_to_django(committed_reports):
    for path, query in [
        ("/api/v1/map/reports.geojson", "limit=2&format=csv"),  # a parameter it does not know
        ("/api/v1/reports/", ""),
        ("/", ""),
    ]:
        status, _, body, fallback = _call(path, query)
        assert (status, body, fallback.paths) == (418, b"django", [path])
    status, _, _, fallback = _call(
        f"/api/v1/map/reports/{committed_reports[2].pk}.geojson", method="POST"
    )
    assert (status, fallback.paths) == (
        418,
        [f"/api/v1/map/reports/{committed_reports[2].pk}.geojson"],
    )


def test_a_nul_in_any_filter_goes_to_djangos_guard(committed_reports):
    """PostgreSQL text holds no NUL: Django's guard answers it with a readable 400
    (tests/hostile); the fast path must never send one to the database itself."""
    for query in ["category=%00", "status=new%00", "bbox=13.7,51.0,13.8,51.1%00", "limit=%002"]:
        status, _, body, fallback = _call("/api/v1/map/reports.geojson", query)
        assert (status, body, fallback.paths) == (418, b"django", ["/api/v1/map/reports.geojson"])
    nul = Client().get("/api/v1/map/reports.geojson", {"category": "litter\x00"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]


@pytest.fixture
def redis_tile_cache(settings):
    from django.core.cache import caches

    from tests.conftest import TEST_BROKER_URL

    settings.CACHES = {
        **settings.CACHES,
        "tiles": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_BROKER_URL,
            "KEY_PREFIX": "test-fastpath-tiles",
            "TIMEOUT": 600,
        },
    }
    caches["tiles"].clear()
    yield
    caches["tiles"].clear()


def test_tiles_are_built_and_cached_exactly_as_django_does(
    committed_reports, redis_tile_cache, django_capture_on_commit_callbacks
):
    from django.core.cache import caches

    from api.tiles import cached_report_tile_key, tile_for_point

    z, x, y = tile_for_point(13.72, 51.03, 15)  # committed_reports[2]
    path = f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf"
    empty = f"/api/v1/tiles/reports/{z}/{x + 5}/{y}.pbf"
    for tile, query in [(path, ""), (path, "map=public"), (empty, "")]:
        # Not cached yet: built by the handler, cached for everyone.
        status, headers, body, fallback = _call(tile, query)
        assert fallback.paths == []
        assert status == (204 if tile == empty else 200)
        key = cached_report_tile_key(
            z=z, x=x + (5 if tile == empty else 0), y=y, public_map=bool(query)
        )
        assert caches["tiles"].get(key) == (body, headers["etag"])
        # The same as Django answers, from the cache and built anew.
        for _ in range(2):
            django_status, django_headers, django_body = _django(tile, query)
            assert (status, body) == (django_status, django_body)
            for name in ["Content-Type", "ETag", "Cache-Control", "Access-Control-Allow-Origin"]:
                assert headers.get(name.lower()) == django_headers.get(name), name
            caches["tiles"].clear()
        status, _, body, _ = _call(tile, query, headers={"If-None-Match": headers["etag"]})
        assert (status, body) == (304, b"")
    # Filtered tiles are not cached: always Django.
    assert _call(path, "status=new")[3].paths == [path]
    # Outside the grid: Django's 400.
    assert _call("/api/v1/tiles/reports/3/8/0.pbf")[3].paths == ["/api/v1/tiles/reports/3/8/0.pbf"]
    # A changed report drops its cached tiles (after its commit): the next answer is built anew.
    from reports.services import report_transition

    _call(path)
    before = _call(path)[2]
    with django_capture_on_commit_callbacks(execute=True):
        report_transition(
            report=Report.objects.get(pk=committed_reports[2].pk), to=Report.Status.IN_PROGRESS
        )
    assert _call(path)[2] != before


def test_without_a_tile_cache_every_tile_is_built_by_the_handler(committed_reports, settings):
    from api.tiles import tile_for_point

    settings.CACHES = {
        **settings.CACHES,
        "tiles": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    for z in (12, 15):
        _, x, y = tile_for_point(13.72, 51.03, z)
        for query in ("", "map=public"):
            assert _assert_tile_same(f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf", query)


def _assert_tile_same(path: str, query: str) -> bytes:
    status, headers, body, fallback = _call(path, query)
    assert fallback.paths == []
    django_status, django_headers, django_body = _django(path, query)
    assert (status, body) == (django_status, django_body) and status == 200
    for name in ["Content-Type", "ETag", "Cache-Control", "Access-Control-Allow-Origin"]:
        assert headers.get(name.lower()) == django_headers.get(name), name
    return body
