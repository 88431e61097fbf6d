"""The cached vector tiles of the reports layers (`caches["tiles"]`, Redis shared by every
process) and which of them a changed report invalidates.

The cache is an optimisation, never a dependency: with Redis unreachable a read is a miss and
the tile is built by PostGIS, a write is skipped, and an invalidation raises `TileCacheDown`
so that the outbox item that asked for it is retried (`reports.handlers`). After a failure the
cache is not tried again for BACKOFF_SECONDS, so an outage costs one connection attempt, not one
per request.
"""

import logging
import math
import time
from collections.abc import Iterable

from django.core.cache import caches

logger = logging.getLogger(__name__)

MAX_ZOOM = 22
# The cached report layers: all published reports, and the public map's selection.
CACHED_REPORT_LAYERS = ("reports", "reports-map")
BACKOFF_SECONDS = 10.0
_state = {"down_until": 0.0}


class TileCacheDown(Exception):
    """The tile cache could not be reached."""


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
    a buffer of 64 of 4096 that neighbour only draws the clipped edge, so the containing tile is
    what must be refreshed.)"""
    return [tile_for_point(lon, lat, z) for z in zooms]


def _cache_key(layer: str, z: int, x: int, y: int) -> str:
    return f"{layer}:{z}:{x}:{y}"


def cached_report_tile_key(*, z: int, x: int, y: int, public_map: bool = False) -> str:
    return _cache_key(CACHED_REPORT_LAYERS[1] if public_map else CACHED_REPORT_LAYERS[0], z, x, y)


def _down(exc: Exception, what: str) -> None:
    _state["down_until"] = time.monotonic() + BACKOFF_SECONDS
    logger.warning("tile cache unreachable (%s): %s", what, exc)


def _up() -> bool:
    return time.monotonic() >= _state["down_until"]


def tile_cache_get(key: str):
    """The cached entry, or None (also when the cache is unreachable: a miss)."""
    if not _up():
        return None
    try:
        return caches["tiles"].get(key)
    except Exception as exc:  # redis-py raises its own and OSError kinds
        _down(exc, "read")
        return None


def tile_cache_set(key: str, value) -> None:
    if not _up():
        return
    try:
        caches["tiles"].set(key, value)
    except Exception as exc:
        _down(exc, "write")


def reports_tiles_invalidate(*, points: Iterable) -> list[str]:
    """Drop the cached reports tiles containing any of the points (GEOS points or (lon, lat)
    pairs, SRID 4326) at every zoom; returns the keys dropped. Raises TileCacheDown when the
    cache cannot be reached (the caller's outbox item is then retried)."""
    coords = [(p.x, p.y) if hasattr(p, "x") else tuple(p) for p in points if p is not None]
    keys = sorted(
        {
            _cache_key(layer, z, x, y)
            for layer in CACHED_REPORT_LAYERS
            for lon, lat in coords
            for z, x, y in tile_keys_for_point(lon, lat)
        }
    )
    if not keys:
        return keys
    if not _up():
        raise TileCacheDown("tile cache marked unreachable; retried later")
    try:
        caches["tiles"].delete_many(keys)
    except Exception as exc:
        _down(exc, "delete")
        raise TileCacheDown(str(exc)) from exc
    return keys
