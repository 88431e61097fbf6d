"""Mapbox vector tiles (MVT) for reports and events, built by PostGIS (`ST_AsMVT`).

Reports are drawn at `public_location` (the exact point, or the centre of the category's
privacy grid cell), never at the private `location`. A tile is one query: the tile envelope
(`ST_TileEnvelope`, Web Mercator) is turned back into
degrees so the points' own spatial index (SRID 4326) picks the rows, and `ST_AsMVTGeom`
clips and quantises them to the tile's 4096 grid. Below `TILE_CLUSTER_BELOW_ZOOM` the points of a
tile are merged per grid cell (one feature with a `count`), so a city-centre tile at z12 stays
small and fast however many reports there are.

Which tiles a changed report invalidates: `tile_keys_for_point(lon, lat, zooms)` returns the
(z, x, y) of every tile that contains the point, one per zoom. The unfiltered reports layer is
kept in the `tiles` cache (Redis, shared by all processes); saving or deleting a report deletes
exactly the cached tiles of its old and new position (`reports_tiles_invalidate`, wired to the
Report model's signals by `connect_signals`). With the ETag being a hash of the tile's bytes,
clients and any HTTP cache in front revalidate cheaply (304) after `max-age`.
"""

import hashlib
import math
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.db.models.signals import post_delete, post_save, pre_save

from core import db_router

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
# Below this zoom, points are merged per cell of CLUSTER_CELL_PX tile pixels (of 256).
TILE_CLUSTER_BELOW_ZOOM = getattr(settings, "TILE_CLUSTER_BELOW_ZOOM", 14)
CLUSTER_CELL_PX = 8
MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"

_REPORT_POINTS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (SELECT merc, ST_Transform(merc, 4326) AS geo FROM bounds),
mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_Transform(r.public_location, 3857), box.merc, {extent}, {buffer}, true)
               AS geom,
           r.id, c.code AS category, r.status, 1 AS count
    FROM reports_report r
    JOIN reports_category c ON c.id = r.category_id, box
    WHERE r.public_location && box.geo {where}
)
SELECT ST_AsMVT(mvtgeom.*, 'reports', {extent}, 'geom', 'id') FROM mvtgeom
"""

# Merged points: one feature per cell of the tile grid with the number of reports in it, the
# cell's first report id and the most common status among them. The cell of a point comes from
# plain arithmetic on its longitude/latitude (spherical Mercator), not from ST_Transform and
# ST_AsMVTGeom per point: a city-centre z12 tile holds tens of thousands of reports.
_REPORT_CELLS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (
    SELECT ST_XMin(merc) AS x0, ST_YMax(merc) AS y1, ST_XMax(merc) - ST_XMin(merc) AS size,
           ST_Transform(merc, 4326) AS geo
    FROM bounds
),
pts AS (
    SELECT r.id, r.status,
           floor((radians(ST_X(r.public_location)) * 6378137.0 - box.x0)
                 / box.size * %(cells)s) AS cx,
           floor((box.y1 - ln(tan(pi() / 4 + radians(ST_Y(r.public_location)) / 2)) * 6378137.0)
                 / box.size * %(cells)s) AS cy
    FROM reports_report r, box
    WHERE r.public_location && box.geo {where}
),
cells AS (
    SELECT cx, cy, min(id) AS id, count(*) AS count,
           mode() WITHIN GROUP (ORDER BY status) AS status
    FROM pts
    WHERE cx BETWEEN 0 AND %(cells)s - 1 AND cy BETWEEN 0 AND %(cells)s - 1
    GROUP BY cx, cy
)
SELECT ST_AsMVT(q.*, 'reports', {extent}, 'geom', 'id')
FROM (
    SELECT id, count, status,
           ST_MakePoint((cx + 0.5) * %(cell)s, (cy + 0.5) * %(cell)s) AS geom
    FROM cells
) q
"""

_EVENT_POINTS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (SELECT merc, ST_Transform(merc, 4326) AS geo FROM bounds),
mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_Transform(e.location, 3857), box.merc, {extent}, {buffer}, true)
               AS geom,
           e.id, e.title, e.category, e.status,
           to_char(e.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS start
    FROM events_event e, box
    WHERE e.location && box.geo AND e.retired_at IS NULL AND e."end" >= now()
)
SELECT ST_AsMVT(mvtgeom.*, 'events', {extent}, 'geom', 'id') FROM mvtgeom
"""


# The dispatcher's open tickets (staff only: exact location, deadline state). Not merged at low
# zooms: a few thousand open tickets at most, each one a job to see.
_TICKET_POINTS = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc),
box AS (SELECT merc, ST_Transform(merc, 4326) AS geo FROM bounds),
mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_Transform(r.location, 3857), box.merc, {extent}, {buffer}, true)
               AS geom,
           r.id, r.priority, {state} AS state
    FROM reports_report r
    LEFT JOIN crews_assignment a ON a.report_id = r.id AND a.active, box
    WHERE r.location && box.geo AND r.status = ANY(%(open)s)
)
SELECT ST_AsMVT(mvtgeom.*, 'tickets', {extent}, 'geom', 'id') FROM mvtgeom
"""


read_alias = db_router.read_alias  # map and tile reads may go to a replica


def tile_valid(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_for_point(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The (z, x, y) of the XYZ (slippy-map) tile containing a WGS84 point."""
    n = 2**z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = int((lon + 180.0) / 360.0 * n)
    rad = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n)
    return z, min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_keys_for_point(
    lon: float, lat: float, zooms: Iterable[int] = range(0, MAX_ZOOM + 1)
) -> list[tuple[int, int, int]]:
    """Every tile (z, x, y) that contains the point, one per zoom: what a changed report at
    (lon, lat) invalidates. (A point on a tile edge also shows in the neighbour's buffer; with
    BUFFER=64 of 4096 that neighbour only draws the clipped edge, so the containing tile is what
    must be refreshed.)"""
    return [tile_for_point(lon, lat, z) for z in zooms]


def _report_filters(
    *, status: list[str] | None, category: list[str] | None, public_map: bool = False
) -> tuple[str, dict]:
    where, params = " AND r.moderation = 'published'", {}
    if public_map:
        # What the public map shows: open reports and those cleared in the last N days.
        from reports.models import Report
        from reports.selectors import PUBLIC_MAP_CLEARED_DAYS

        where += (
            " AND (r.status = ANY(%(open)s) OR (r.status = 'cleared'"
            " AND r.closed_at >= now() - make_interval(days => %(cleared_days)s)))"
        )
        params["open"] = [str(s) for s in Report.OPEN_STATUSES]
        params["cleared_days"] = PUBLIC_MAP_CLEARED_DAYS
    if status:
        where += " AND r.status = ANY(%(status)s)"
        params["status"] = list(status)
    if category:
        where += (
            " AND r.category_id IN (SELECT id FROM reports_category WHERE code = ANY(%(category)s))"
        )
        params["category"] = list(category)
    return where, params


def report_tile(
    *,
    z: int,
    x: int,
    y: int,
    status: list[str] | None = None,
    category: list[str] | None = None,
    public_map: bool = False,
) -> bytes:
    """The reports layer of one tile as MVT bytes (empty bytes when no report is in it).
    `public_map`: only what the public map shows (open, or cleared in the last days)."""
    where, params = _report_filters(status=status, category=category, public_map=public_map)
    params.update(z=z, x=x, y=y)
    if z < TILE_CLUSTER_BELOW_ZOOM:
        sql = _REPORT_CELLS.format(extent=EXTENT, where=where)
        params["cells"] = 256 // CLUSTER_CELL_PX
        params["cell"] = EXTENT / params["cells"]
    else:
        sql = _REPORT_POINTS.format(extent=EXTENT, buffer=BUFFER, where=where)
    return _fetch(sql, params)


def event_tile(*, z: int, x: int, y: int) -> bytes:
    """Current events with a place, as MVT bytes."""
    sql = _EVENT_POINTS.format(extent=EXTENT, buffer=BUFFER)
    return _fetch(sql, {"z": z, "x": x, "y": y})


def ticket_tile(*, z: int, x: int, y: int, now) -> bytes:
    """Open tickets for the dispatcher's map as MVT bytes (layer `tickets`; properties id,
    priority and the deadline state at `now`: unassigned, late, due_soon, on_time)."""
    from crews.selectors import DEADLINE_STATE_SQL, DUE_SOON_WINDOW
    from reports.models import Report

    sql = _TICKET_POINTS.format(extent=EXTENT, buffer=BUFFER, state=DEADLINE_STATE_SQL)
    params = {
        "z": z,
        "x": x,
        "y": y,
        "now": now,
        "soon": now + DUE_SOON_WINDOW,
        "open": [str(s) for s in Report.OPEN_STATUSES],
    }
    return _fetch(sql, params)


def _fetch(sql: str, params: dict) -> bytes:
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def tile_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etags_of(if_none_match: str) -> set[str]:
    """The entity tags an If-None-Match header names (weak ones compared as strong)."""
    return {tag.strip().removeprefix("W/") for tag in if_none_match.split(",") if tag.strip()}


def _cache_key(layer: str, z: int, x: int, y: int) -> str:
    return f"{layer}:{z}:{x}:{y}"


# The cached report layers: all published reports, and the public map's selection.
CACHED_REPORT_LAYERS = ("reports", "reports-map")


def cached_report_tile_key(*, z: int, x: int, y: int, public_map: bool = False) -> str:
    return _cache_key(CACHED_REPORT_LAYERS[1] if public_map else CACHED_REPORT_LAYERS[0], z, x, y)


def report_tile_cached(*, z: int, x: int, y: int, public_map: bool = False) -> tuple[bytes, str]:
    """The unfiltered reports layer of a tile (or the public map's selection) and its ETag,
    from the cache when it is there."""
    cache = caches["tiles"]
    key = cached_report_tile_key(z=z, x=x, y=y, public_map=public_map)
    hit = cache.get(key)
    if hit is not None:
        return hit
    body = report_tile(z=z, x=x, y=y, public_map=public_map)
    entry = (body, tile_etag(body))
    cache.set(key, entry)
    return entry


def reports_tiles_invalidate(*, points: Iterable) -> list[str]:
    """Drop the cached reports tiles containing any of the points (GEOS points, SRID 4326) at
    every zoom; returns the keys dropped."""
    keys = sorted(
        {
            _cache_key(layer, z, x, y)
            for layer in CACHED_REPORT_LAYERS
            for point in points
            if point is not None
            for z, x, y in tile_keys_for_point(point.x, point.y)
        }
    )
    if keys:
        caches["tiles"].delete_many(keys)
    return keys


def _remember_old_location(sender, instance, update_fields=None, **kwargs) -> None:
    instance._tiles_old_location = None
    moved = update_fields is None or {"location", "public_location"} & set(update_fields)
    if instance.pk and moved:
        instance._tiles_old_location = (
            sender.objects.filter(pk=instance.pk).values_list("public_location", flat=True).first()
        )


def _report_changed(sender, instance, **kwargs) -> None:
    reports_tiles_invalidate(
        points=[instance.public_location, getattr(instance, "_tiles_old_location", None)]
    )


def connect_signals() -> None:
    """Keep cached tiles in step with reports (call once per process, e.g. from AppConfig.ready;
    updates through QuerySet.update() bypass signals and age out after the cache TIMEOUT)."""
    from reports.models import Report

    pre_save.connect(_remember_old_location, sender=Report, dispatch_uid="tiles-old-location")
    post_save.connect(_report_changed, sender=Report, dispatch_uid="tiles-report-saved")
    post_delete.connect(_report_changed, sender=Report, dispatch_uid="tiles-report-deleted")
