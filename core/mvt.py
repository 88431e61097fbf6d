"""Mapbox vector tiles (MVT) built by PostGIS: the tile grid and one fetch for every layer.

A tile is one query: the tile envelope (`ST_TileEnvelope`, Web Mercator) is turned back into
degrees so the points' own spatial index (SRID 4326) picks the rows, and `ST_AsMVTGeom` clips
and quantises them to the tile's EXTENT grid. The layers themselves belong to their apps
(`reports.layers`, `events.layers`, `crews.layers`).
"""

from django.db import connections

from core.db_router import read_alias

EXTENT = 4096
BUFFER = 64


def mvt_fetch(sql: str, params: dict) -> bytes:
    """Run a layer's `ST_AsMVT` query (on the replica when there is one); the tile's bytes,
    empty when no feature is in it."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
