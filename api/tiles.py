"""Mapbox vector tiles (MVT) over HTTP: validity, ETags and the cached reports layer.

Each app builds its own layer in PostGIS (`ST_AsMVT`): `reports.layers.report_tile`,
`events.layers.event_tile`, `crews.layers.ticket_tile`; the tile envelope and the fetch are
`core.mvt`. No SQL here.

Which tiles a changed report invalidates, and the cache itself (Redis, shared by all
processes, an optimisation only: with Redis down tiles are built uncached), live in
`reports.tilecache`; the report services drop a changed report's tiles after their commit
(`reports.publish`), never from a model signal. With the ETag being a hash of the tile's bytes,
clients and any HTTP cache in front revalidate cheaply (304) after `max-age`.
"""

import hashlib

from core import db_router
from core.mvt import BUFFER, EXTENT  # noqa: F401  (re-exported)
from crews.layers import ticket_tile  # noqa: F401  (re-exported: each app builds its layer)
from events.layers import event_tile  # noqa: F401
from reports.layers import TILE_CLUSTER_BELOW_ZOOM, report_tile, report_tile_sql  # noqa: F401
from reports.tilecache import (  # noqa: F401  (re-exported: the faces' tile vocabulary)
    CACHED_REPORT_LAYERS,
    MAX_ZOOM,
    cached_report_tile_key,
    tile_cache_get,
    tile_cache_set,
    tile_for_point,
    tile_keys_for_point,
)

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"

read_alias = db_router.read_alias  # map and tile reads may go to a replica


def tile_valid(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


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
