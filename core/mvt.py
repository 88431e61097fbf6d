"""Mapbox vector tiles (MVT) built by PostGIS: the tile grid and one fetch for every layer.

A tile is one query. Two ways to pick its rows:
- by geometry: the tile envelope (`ST_TileEnvelope`, Web Mercator) turned back into degrees, so
  the points' own spatial index (SRID 4326) picks the rows and `ST_AsMVTGeom` clips and
  quantises them to the tile's EXTENT grid (events, tickets);
- by tile key (the reports layer, the largest): a point's position on the slippy-map grid at
  zoom 31 (`TILE_BITS`), `tile_x`/`tile_y`, floored exactly as `tile_for_point` does, and their
  bits interleaved (Morton order) into `tile_key`. Every tile at any zoom is then one contiguous
  range of keys (`tile_key_range`), an index range scan that can answer from the index alone;
  the point's place inside the tile and its merge cell are integer shifts, not ST_Transform and
  ST_AsMVTGeom per row. The SQL functions that compute them are in reports migration 0012.

The layers themselves belong to their apps (`reports.layers`, `events.layers`, `crews.layers`).
Tile queries are short and many: JIT compilation (which PostgreSQL starts by the planner's cost,
and the PostGIS functions are costed high) took longer than whole tiles, and a parallel plan only
takes a core from the next request; `TILE_SESSION_SQL` turns both off for them (and gives them
the memory to group a low-zoom tile's points without spilling to disk).
"""

from django.db import connections, transaction

from core.db_router import read_alias

EXTENT = 4096
BUFFER = 64
TILE_BITS = 31
# Session settings for tile queries (SET LOCAL in a transaction, or a pool's connect options).
# work_mem (kB): a low-zoom tile groups ~100k points into merge cells; at the default 4 MB the
# planner may sort them for a GroupAggregate that spills to disk, 16 MB keeps a HashAggregate in
# memory (docs/scaling.md, B10).
TILE_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0", "work_mem": "16384"}
TILE_SESSION_SQL = "; ".join(f"SET LOCAL {name} = {value}" for name, value in TILE_SETTINGS.items())


def _spread(v: int) -> int:
    """The bits of v at the even positions (bit i to bit 2i)."""
    out = 0
    for i in range(TILE_BITS):
        out |= ((v >> i) & 1) << (2 * i)
    return out


def tile_key(x: int, y: int) -> int:
    """The Morton key of tile (x, y) at its zoom: x's bits at even positions, y's at odd."""
    return _spread(x) | (_spread(y) << 1)


def tile_key_range(z: int, x: int, y: int) -> tuple[int, int]:
    """The first and last `tile_key` (zoom-31 Morton key) of the points in tile (z, x, y)."""
    shift = 2 * (TILE_BITS - z)
    first = tile_key(x, y) << shift
    return first, first + (1 << shift) - 1


def mvt_fetch(sql: str, params: dict) -> bytes:
    """Run a layer's `ST_AsMVT` query (on the replica when there is one); the tile's bytes,
    empty when no feature is in it."""
    alias = read_alias()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(TILE_SESSION_SQL)
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
