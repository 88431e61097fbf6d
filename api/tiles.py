"""Mapbox vector tiles (MVT) for reports and events, built by PostGIS (`ST_AsMVT`).

Reports are drawn at `public_location` (the exact point, or the centre of the category's
privacy grid cell), never at the private `location`. A tile is one query: the tile envelope
(`ST_TileEnvelope`, Web Mercator) is turned back into
degrees so the points' own spatial index (SRID 4326) picks the rows, and `ST_AsMVTGeom`
clips and quantises them to the tile's 4096 grid. Below `TILE_CLUSTER_BELOW_ZOOM` the points of a
tile are merged per grid cell (one feature with a `count`), so a city-centre tile at z12 stays
small and fast however many reports there are.

Which tiles a changed report invalidates, and the cache itself (Redis, shared by all
processes, an optimisation only: with Redis down tiles are built uncached), live in
`reports.tilecache`; the report services drop a changed report's tiles after their commit
(`reports.publish`), never from a model signal. With the ETag being a hash of the tile's bytes,
clients and any HTTP cache in front revalidate cheaply (304) after `max-age`.
"""

import hashlib

from django.conf import settings
from django.db import connections

from core import db_router
from reports.tilecache import (  # noqa: F401  (re-exported: the faces' tile vocabulary)
    CACHED_REPORT_LAYERS,
    MAX_ZOOM,
    cached_report_tile_key,
    tile_cache_get,
    tile_cache_set,
    tile_for_point,
    tile_keys_for_point,
)

EXTENT = 4096
BUFFER = 64
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


def report_tile_cached(*, z: int, x: int, y: int, public_map: bool = False) -> tuple[bytes, str]:
    """The unfiltered reports layer of a tile (or the public map's selection) and its ETag,
    from the cache when it is there."""
    key = cached_report_tile_key(z=z, x=x, y=y, public_map=public_map)
    hit = tile_cache_get(key)
    if hit is not None:
        return hit
    body = report_tile(z=z, x=x, y=y, public_map=public_map)
    entry = (body, tile_etag(body))
    tile_cache_set(key, entry)
    return entry
