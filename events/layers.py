"""The events map layer as vector tiles, built by PostGIS (`core.mvt`)."""

from core.mvt import BUFFER, EXTENT, mvt_fetch

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


def event_tile(*, z: int, x: int, y: int) -> bytes:
    """Current events with a place, as MVT bytes."""
    sql = _EVENT_POINTS.format(extent=EXTENT, buffer=BUFFER)
    return mvt_fetch(sql, {"z": z, "x": x, "y": y})
