"""The dispatcher's open tickets as vector tiles, built by PostGIS (`core.mvt`)."""

from datetime import datetime

from core.mvt import BUFFER, EXTENT, mvt_fetch
from crews.selectors import DEADLINE_STATE_SQL, DUE_SOON_WINDOW
from reports.models import Report

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


def ticket_tile(*, z: int, x: int, y: int, now: datetime) -> bytes:
    """Open tickets for the dispatcher's map as MVT bytes (layer `tickets`; properties id,
    priority and the deadline state at `now`: unassigned, late, due_soon, on_time)."""
    sql = _TICKET_POINTS.format(extent=EXTENT, buffer=BUFFER, state=DEADLINE_STATE_SQL)
    params = {
        "z": z,
        "x": x,
        "y": y,
        "now": now,
        "soon": now + DUE_SOON_WINDOW,
        "open": [str(s) for s in Report.OPEN_STATUSES],
    }
    return mvt_fetch(sql, params)
