"""The hottest public map reads, served without Django's request cycle.

A phone on the public map asks for its layer of reports (`/api/v1/map/reports.geojson`, whole,
in a bbox or in keyset pages) and for single reports (`/api/v1/map/reports/<id>.geojson`, the
popup) far more often than anything else. Their bodies are written entirely by PostGIS
(`api.geo_views`), so Python has nothing to do but pass bytes on; under Django's ASGI handler
each such request still goes through ten middlewares and a hop into the one sync thread. This
small ASGI app answers exactly those requests itself, on an asyncio connection pool, with the
same SQL, the same bytes, the same ETag/Last-Modified/Cache-Control and the same security
headers; every other request (and every request it does not recognise) goes to Django
unchanged. `MAP_FAST_PATH=0` switches it off.

The reports vector tiles (unfiltered, or the public map's selection) are answered here too: from
the tile cache when it holds them, else built by the same query as Django's
(`reports.layers.report_tile_sql`) on a pool of its own whose sessions run tile queries as
`core.mvt` wants them (no JIT, no parallel workers), then cached for the next request. With the
tile cache off (TILE_CACHE_URL="") every tile is built here.

The equivalence with the Django views is a test (tests/api/test_fastpath.py); the speed is
benchmarks B1 (the layer), B9 (pages and popups over HTTP) and B2 (tiles, cached and not).
"""

import asyncio
import contextlib
import logging
import re
from email.utils import formatdate
from urllib.parse import parse_qsl, urlencode

import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisSerializer
from psycopg_pool import AsyncConnectionPool

from api import geo_views, tiles
from core.mvt import TILE_SETTINGS

logger = logging.getLogger(__name__)

PAGE_PATH = "/api/v1/map/reports.geojson"
TILE_PATH = re.compile(r"^/api/v1/tiles/reports/(\d+)/(\d+)/(\d+)\.pbf$")
FEATURE_PATH = re.compile(r"^/api/v1/map/reports/(\d+)\.geojson$")
PAGE_FILTERS = {"bbox", "status", "category", "limit", "before"}


def _conninfo(alias: str, session: dict[str, str] | None = None) -> str:
    db = settings.DATABASES[alias]
    # Django runs its connections in UTC: the timestamps in the GeoJSON must read the same.
    options = {"TimeZone": "UTC", **(session or {})}
    parts = {
        "dbname": db["NAME"],
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
        "host": db.get("HOST") or "",
        "port": str(db.get("PORT") or ""),
        "options": " ".join(f"-c {name}={value}" for name, value in options.items()),
        "application_name": "civicmap-fastpath",
    }
    return " ".join(f"{k}='{v}'" for k, v in parts.items() if v)


class MapReads:
    """ASGI app: the public map's report reads, else `fallback` (Django). The whole layer is
    truly streamed here (Django's ASGI handler collects a streaming body before sending)."""

    def __init__(self, fallback):
        self.fallback = fallback
        self.pool: AsyncConnectionPool | None = None
        self.tile_pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()
        self.headers = _security_headers()
        self.tile_cache = _tile_cache()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path == PAGE_PATH:
                query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                # A NUL goes to Django, whose guard answers it with a readable 400 (core.errors).
                nul = any("\x00" in k or "\x00" in v for k, v in query)
                if {k for k, _ in query} <= PAGE_FILTERS and not nul:
                    return await self._reports(scope, send, query)
            elif match := FEATURE_PATH.match(path):
                return await self._feature(scope, send, int(match.group(1)))
            elif match := TILE_PATH.match(path):
                query = scope["query_string"]
                if query in (b"", b"map=public") and await self._tile(
                    scope, send, *map(int, match.groups()), public_map=bool(query)
                ):
                    return None
        return await self.fallback(scope, receive, send)

    async def _pool(self, *, for_tiles: bool = False) -> AsyncConnectionPool:
        name = "tile_pool" if for_tiles else "pool"
        if getattr(self, name) is None:
            async with self._opening:
                if getattr(self, name) is None:
                    pool = AsyncConnectionPool(
                        _conninfo(tiles.read_alias(), TILE_SETTINGS if for_tiles else None),
                        kwargs={"autocommit": True},
                        min_size=1,
                        max_size=settings.MAP_FAST_PATH_POOL_SIZE,
                        open=False,
                        timeout=10,
                    )
                    await pool.open()
                    setattr(self, name, pool)
        return getattr(self, name)

    async def close(self) -> None:
        for pool in (self.pool, self.tile_pool):
            if pool is not None:
                await pool.close()
        self.pool = self.tile_pool = None

    async def _fetch(self, sql: str, params: list, *, all_rows: bool):
        pool = await self._pool()
        async with pool.connection() as connection:
            cursor = await connection.execute(sql, params)
            return await (cursor.fetchall() if all_rows else cursor.fetchone())

    async def _reports(self, scope, send, query: list[tuple[str, str]]):
        try:
            filters, limit, before = geo_views.report_query(dict(query))
        except geo_views.BadParameter as error:
            return await self._json(scope, send, 400, error)
        if limit is None:
            return await self._layer(scope, send, query, filters)
        sql, params = geo_views.report_page_sql(filters=filters, limit=limit, before=before)
        rows = [row[0] for row in await self._fetch(sql, params, all_rows=True)]
        body = geo_views.feature_collection(rows)
        extra = []
        if len(rows) == limit:
            nxt = _grouped(query, before=str(geo_views.feature_id(rows[-1])))
            extra.append((b"link", f'<{scope["path"]}?{urlencode(nxt)}>; rel="next"'.encode()))
        await self._geojson(scope, send, body, extra)

    async def _layer(self, scope, send, query: list[tuple[str, str]], filters: dict):
        """The whole (filtered) layer, streamed as PostGIS writes it: fetched in chunks (from a
        server-side cursor when it is large), each chunk sent on at once, so memory stays
        bounded whatever the number of reports."""
        pool = await self._pool()
        async with pool.connection() as connection:
            cursor = await connection.execute(*geo_views.layer_version_sql(**filters))
            count, newest = await cursor.fetchone()
            etag = geo_views.layer_etag(urlencode(_grouped(query)), count, newest)
            headers = [
                *self.headers,
                (b"etag", etag.encode()),
                (b"cache-control", f"public, max-age={geo_views.GEOJSON_MAX_AGE}".encode()),
            ]
            if newest is not None:
                modified = formatdate(newest.timestamp(), usegmt=True)
                headers.append((b"last-modified", modified.encode()))
            if etag in _if_none_match(scope):
                return await _respond(scope, send, 304, headers)
            headers.append((b"content-type", geo_views.GEOJSON_CONTENT_TYPE.encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if scope["method"] == "HEAD":
                return await send({"type": "http.response.body", "body": b""})
            sql, params = geo_views.report_features_sql(**filters)
            head, separator = b'{"type":"FeatureCollection","features":[', b""
            # Like the Django view: a server-side cursor only for large layers (a cursor is
            # planned for its first rows, and a small bbox query would lose its index plan).
            # (A pool connection is in autocommit: only the server-side cursor needs a
            # transaction, and a small layer is then one round trip.)
            large = count > geo_views.SERVER_SIDE_ROWS
            async with (
                connection.transaction() if large else contextlib.nullcontext(),
                connection.cursor(name="map_layer" if large else None) as rows,
            ):
                await rows.execute(sql, params)
                while chunk := await rows.fetchmany(geo_views.FETCH_ROWS):
                    body = head + separator + ",".join(row[0] for row in chunk).encode()
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    head, separator = b"", b","
            await send({"type": "http.response.body", "body": head + b"]}"})

    async def _tile(self, scope, send, z: int, x: int, y: int, *, public_map: bool) -> bool:
        """A reports tile as the Django view answers it: from the tile cache (what
        `api.tiles.report_tile_cached` or this handler put there), else built by the database
        and cached; False (Django answers) for a tile outside the grid."""
        if not tiles.tile_valid(z, x, y):
            return False
        entry = None
        if self.tile_cache is not None:
            key = caches["tiles"].make_and_validate_key(
                tiles.cached_report_tile_key(z=z, x=x, y=y, public_map=public_map)
            )
            try:
                raw = await self.tile_cache.get(key)
            except Exception as error:  # the cache is down: build the tile uncached
                logger.warning("tile cache unreachable (fast path read): %s", error)
                key = raw = None
            if raw is not None:
                entry = RedisSerializer().loads(raw)
        if entry is None:
            sql, params = tiles.report_tile_sql(z=z, x=x, y=y, public_map=public_map)
            pool = await self._pool(for_tiles=True)
            async with pool.connection() as connection:
                # Binary results: the tile's bytes as they are, not hex text to decode.
                row = await (await connection.execute(sql, params, binary=True)).fetchone()
            body = bytes(row[0]) if row and row[0] is not None else b""
            entry = (body, tiles.tile_etag(body))
            if self.tile_cache is not None and key is not None:
                await self._cache_set(key, entry)
        body, etag = entry
        headers = [
            *self.headers,
            (b"etag", etag.encode()),
            (b"cache-control", f"public, max-age={geo_views.TILE_MAX_AGE}".encode()),
            (b"access-control-allow-origin", b"*"),
        ]
        if etag in _if_none_match(scope):
            await _respond(scope, send, 304, headers)
        else:
            headers.append((b"content-type", tiles.MVT_CONTENT_TYPE.encode()))
            await _respond(scope, send, 200 if body else 204, headers, body)
        return True

    async def _cache_set(self, key: str, entry: tuple[bytes, str]) -> None:
        """Cache a built tile as Django's `caches["tiles"].set` would; a failure is logged,
        never raised into the request."""
        try:
            await self.tile_cache.set(
                key, RedisSerializer().dumps(entry), ex=caches["tiles"].default_timeout
            )
        except Exception as error:
            logger.warning("tile cache unreachable (fast path write): %s", error)

    async def _feature(self, scope, send, pk: int):
        sql, params = geo_views.report_feature_sql(pk)
        row = await self._fetch(sql, params, all_rows=False)
        if row is None:
            return await self._json(scope, send, 404, "not found")
        await self._geojson(scope, send, row[0].encode(), [])

    async def _geojson(self, scope, send, body: bytes, extra: list):
        etag = tiles.tile_etag(body)
        headers = [
            *self.headers,
            (b"etag", etag.encode()),
            (b"cache-control", f"public, max-age={geo_views.GEOJSON_MAX_AGE}".encode()),
            *extra,
        ]
        if etag in _if_none_match(scope):
            return await _respond(scope, send, 304, headers)
        headers.append((b"content-type", geo_views.GEOJSON_CONTENT_TYPE.encode()))
        await _respond(scope, send, 200, headers, body)

    async def _json(self, scope, send, status: int, message) -> None:
        headers = [*self.headers, (b"content-type", b"application/json")]
        await _respond(scope, send, status, headers, geo_views.error_body(str(message)))


def _grouped(query: list[tuple[str, str]], **replace: str) -> list[tuple[str, str]]:
    """The query as Django's `QueryDict.urlencode` writes it (values grouped by key, keys in
    first-seen order), with `replace`'s keys set to one value."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    for key, value in replace.items():
        grouped[key] = [value]
    return [(key, value) for key, values in grouped.items() for value in values]


async def _respond(scope, send, status: int, headers: list, body: bytes = b"") -> None:
    """One whole response; a HEAD request gets the headers (and the length) only."""
    if body:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _if_none_match(scope) -> set[str]:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return tiles.etags_of(value.decode("latin-1"))
    return set()


def _tile_cache():
    """An asyncio client on the Redis that holds Django's `tiles` cache, or None when that
    cache is not Redis (then tiles go to Django)."""
    cache = settings.CACHES.get("tiles", {})
    if cache.get("BACKEND") != "django.core.cache.backends.redis.RedisCache":
        return None
    return aioredis.Redis.from_url(cache["LOCATION"])


def _security_headers() -> list[tuple[bytes, bytes]]:
    """What SecurityMiddleware, XFrameOptionsMiddleware and our CSP middleware put on a JSON
    response, so a fast answer carries the same protections as a Django one."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # A JSON body loads nothing: the strictest policy.
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    ]
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    return headers
