"""The reports map layers, built by PostGIS: GeoJSON (the faces stream it) and vector tiles.

`ST_AsGeoJSON` + one text per feature, so Python never builds a dict per report. The properties
are exactly those of `api.geo_views.ReportMapSerializer` (drf-gis), the reference the tests and
the benchmark compare with (`report_map_queryset` gives its rows); no reporter contact data is
selected at all, and the point is the report's `public_location` (coarsened by the category's
privacy grid), not its exact location. The query builders return (sql, params) so that the
ASGI fast path (api/fastpath.py) runs the very same queries on its own async pool.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connections

from core.db_router import read_alias
from core.mvt import EXTENT, TILE_BITS, mvt_fetch, tile_key_range
from reports.models import Report

COORDINATE_DIGITS = 6  # 0.1 m: more than any phone's GPS knows

# The SQL form of `Report.objects.published()` (on `reports_report r`).
PUBLISHED_SQL = "r.moderation = 'published'"

# ST_AsGeoJSON(record) writes the whole feature, every other column a property (the fastest
# way in PostGIS 3.3; a feature-level id would need `id_column`, PostGIS 3.5).
_FEATURE = """
SELECT ST_AsGeoJSON(t.*, 'geom', {digits})
FROM (
    SELECT r.public_location AS geom, r.id, c.code AS category, r.status, d.code AS district,
           r.priority, r.confirmations_count, r.due_at, r.created_at, r.updated_at, r.closed_at
    FROM reports_report r
    JOIN reports_category c ON c.id = r.category_id
    LEFT JOIN districts_district d ON d.id = r.district_id
    WHERE true {where}
    ORDER BY r.id DESC
) t
"""

_VERSION = """
SELECT count(*), max(r.updated_at) FROM reports_report r WHERE true {where}
"""


def report_map_where(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    status: list[str] | None = None,
    category: list[str] | None = None,
) -> tuple[str, list]:
    """The SQL condition (on `reports_report r`) and its parameters for the map filters; only
    published reports (not pending approval, not hidden by staff)."""
    where, params = f" AND {PUBLISHED_SQL}", []
    if bbox is not None:
        where += " AND r.public_location && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        params += list(bbox)
    if status:
        where += " AND r.status = ANY(%s)"
        params.append(list(status))
    if category:
        where += " AND r.category_id IN (SELECT id FROM reports_category WHERE code = ANY(%s))"
        params.append(list(category))
    return where, params


def report_map_queryset(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    status: list[str] | None = None,
    category: list[str] | None = None,
):
    """The same rows as an ORM queryset (for the drf-gis reference)."""
    reports = Report.objects.published().select_related("category", "district").order_by("-id")
    if bbox is not None:
        reports = reports.filter(public_location__bboverlaps=Polygon.from_bbox(bbox))
    if status:
        reports = reports.filter(status__in=status)
    if category:
        reports = reports.filter(category__code__in=category)
    return reports


def report_features_sql(**filters) -> tuple[str, list]:
    """One row per report: the feature's GeoJSON text."""
    where, params = report_map_where(**filters)
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where), params


def report_page_sql(*, filters: dict, limit: int, before: int | None) -> tuple[str, list]:
    """One keyset page (newest first): `limit` features with an id below `before`."""
    where, params = report_map_where(**filters)
    if before is not None:
        where += " AND r.id < %s"
        params.append(before)
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where) + " LIMIT %s", [*params, limit]


def report_feature_sql(pk: int) -> tuple[str, list]:
    where, params = report_map_where()
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where + " AND r.id = %s"), [*params, pk]


def layer_version_sql(**filters) -> tuple[str, list]:
    """Count and newest change of the layer's rows: what its ETag and Last-Modified say."""
    where, params = report_map_where(**filters)
    return _VERSION.format(where=where), params


def report_page_features(*, filters: dict, limit: int, before: int | None) -> list[str]:
    """One keyset page of the layer (newest first), each feature as GeoJSON text."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(*report_page_sql(filters=filters, limit=limit, before=before))
        return [row[0] for row in cursor.fetchall()]


def report_feature_geojson(*, pk: int) -> str | None:
    """One published report as a GeoJSON Feature text; None when there is no such report."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(*report_feature_sql(pk))
        row = cursor.fetchone()
    return row[0] if row else None


def layer_version(**filters) -> tuple[int, datetime | None]:
    """Count and newest change of the layer's rows."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(*layer_version_sql(**filters))
        count, newest = cursor.fetchone()
    return count, newest


# --- vector tiles ------------------------------------------------------------------------------
# Reports are drawn at `public_location` (the exact point, or the centre of the category's privacy
# grid cell), never at the private `location`. Below TILE_CLUSTER_BELOW_ZOOM the points of a tile
# are merged per grid cell (one feature with a `count`), so a city-centre tile at z12 stays small
# however many reports there are.
#
# Both queries read the tile's rows as one range of `tile_key` from the covering index
# `report_tile_key_published` alone (core.mvt): no heap page, no ST_Transform or ST_AsMVTGeom per
# report. A point's place in the tile, and its merge cell, are shifts of its zoom-31 grid position
# (`tile_x`, `tile_y`); at every zoom a point belongs to exactly the tile `tile_for_point` names,
# the one a change invalidates.

# Below this zoom, points are merged per cell of CLUSTER_CELL_PX tile pixels (of 256).
TILE_CLUSTER_BELOW_ZOOM = getattr(settings, "TILE_CLUSTER_BELOW_ZOOM", 14)
CLUSTER_CELL_PX = 8
CLUSTER_CELLS = 256 // CLUSTER_CELL_PX  # per tile side
_CELL_BITS = CLUSTER_CELLS.bit_length() - 1

_REPORT_POINTS = """
SELECT ST_AsMVT(q.*, 'reports', {extent}, 'geom', 'id')
FROM (
    SELECT ST_MakePoint(((r.tile_x - %(x0)s::bigint) * {extent}) >> %(shift)s,
                        ((r.tile_y - %(y0)s::bigint) * {extent}) >> %(shift)s) AS geom,
           r.id, c.code AS category, r.status, 1 AS count
    FROM reports_report r
    JOIN reports_category c ON c.id = r.category_id
    WHERE r.tile_key BETWEEN %(first)s AND %(last)s {where}
) q
"""

# Merged points: one feature per cell of the tile grid with the number of reports in it, the
# cell's first report id and the most common status among them (ties: the first status in sort
# order, as `mode() WITHIN GROUP (ORDER BY status)` would say; counting per status is a fraction
# of the cost of sorting every cell).
_STATUSES = sorted(str(status) for status in Report.Status)
_STATUS_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE r.status = '{status}') AS n_{status}" for status in _STATUSES
)
_MOST = "GREATEST({})".format(", ".join(f"n_{status}" for status in _STATUSES))
_MODE = "CASE {} END".format(
    " ".join(f"WHEN n_{status} = {_MOST} THEN '{status}'" for status in _STATUSES)
)
_REPORT_CELLS = """
SELECT ST_AsMVT(q.*, 'reports', {extent}, 'geom', 'id')
FROM (
    SELECT id, count, {mode} AS status,
           ST_MakePoint((cx - %(cx0)s::bigint + 0.5::float8) * %(cell)s,
                        (cy - %(cy0)s::bigint + 0.5::float8) * %(cell)s) AS geom
    FROM (
        SELECT r.tile_x >> %(cshift)s AS cx, r.tile_y >> %(cshift)s AS cy,
               min(r.id) AS id, count(*) AS count, {counts}
        FROM reports_report r
        WHERE r.tile_key BETWEEN %(first)s AND %(last)s {where}
        GROUP BY 1, 2
    ) cells
) q
"""


def _report_filters(
    *, status: list[str] | None, category: list[str] | None, public_map: bool = False
) -> tuple[str, dict]:
    where, params = f" AND {PUBLISHED_SQL}", {}
    if public_map:
        # What the public map shows: open reports and those cleared in the last N days.
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


def report_tile_sql(
    *,
    z: int,
    x: int,
    y: int,
    status: list[str] | None = None,
    category: list[str] | None = None,
    public_map: bool = False,
) -> tuple[str, dict]:
    """The query (and its parameters) of the reports layer of one tile: what `report_tile` runs
    and the ASGI fast path (api/fastpath.py) runs on its own pool."""
    where, params = _report_filters(status=status, category=category, public_map=public_map)
    first, last = tile_key_range(z, x, y)
    params.update(first=first, last=last)
    if z < TILE_CLUSTER_BELOW_ZOOM:
        sql = _REPORT_CELLS.format(extent=EXTENT, where=where, mode=_MODE, counts=_STATUS_COUNTS)
        params.update(
            cshift=TILE_BITS - z - _CELL_BITS,
            cx0=x << _CELL_BITS,
            cy0=y << _CELL_BITS,
            cell=EXTENT / CLUSTER_CELLS,
        )
    else:
        sql = _REPORT_POINTS.format(extent=EXTENT, where=where)
        params.update(shift=TILE_BITS - z, x0=x << (TILE_BITS - z), y0=y << (TILE_BITS - z))
    return sql, params


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
    return mvt_fetch(
        *report_tile_sql(z=z, x=x, y=y, status=status, category=category, public_map=public_map)
    )
