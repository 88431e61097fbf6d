"""Re-routing after new district boundaries, place names, and the public point after a change."""

import logging
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from districts.models import PART_CELLS_PER_DEGREE
from districts.selectors import (
    PLACE_ADDRESS_METERS,
    PLACE_STREET_METERS,
)
from reports.geo import public_point
from reports.models import (
    Report,
)
from reports.publish import report_publish

logger = logging.getLogger(__name__)


@transaction.atomic
def report_public_location_refresh(*, report: Report) -> Report:
    """Recompute the public point from the exact one and the current category's grid (call it
    after a report's category or location changed)."""
    current = Report.objects.select_related("category").get(pk=report.pk)
    point = public_point(point=current.location, grid_m=current.category.public_grid_m)
    if point.coords != current.public_location.coords:
        moved_from, current.public_location = current.public_location, point
        current.save(update_fields=["public_location", "updated_at"])
        report_publish(report=current, kind="moved", moved_from=moved_from)
    return current


# Re-routing every report (after new district boundaries), set-based on the district parts:
# pass 1 reads the reports once and finds each one's parts by its grid cell (a hash join, no
# index probe per report; no point-in-polygon test where a district covers the whole cell). It
# keeps only the reports whose stored district may be wrong: covered by another district (moved,
# or on a shared border), by none, or lying exactly on a cell edge (where the neighbouring
# cell's parts count too). Nothing is sorted or written for the great majority.
_REROUTE_SUSPECTS = """
SELECT DISTINCT r.id
FROM reports_report r
LEFT JOIN districts_districtpart p
       ON p.cell_x = floor(ST_X(r.location) * %(per_degree)s)::integer
      AND p.cell_y = floor(ST_Y(r.location) * %(per_degree)s)::integer
      AND (p.whole_cell OR ST_Covers(p.geom, r.location))
WHERE p.district_id IS DISTINCT FROM r.district_id
   OR ST_X(r.location) * %(per_degree)s = floor(ST_X(r.location) * %(per_degree)s)
   OR ST_Y(r.location) * %(per_degree)s = floor(ST_Y(r.location) * %(per_degree)s)
"""


# Pass 2, for the suspects only, set-based too: the create path's rule (covers; on a border the
# first code) on the parts of the report's cell, and of the neighbouring cells when the point lies
# exactly on a cell edge; then a write where the district really changes.
_REROUTE_WRITE = """
WITH suspects AS (
    SELECT r.id, r.location, r.district_id AS old,
           ST_X(r.location) * %(per_degree)s AS gx, ST_Y(r.location) * %(per_degree)s AS gy
    FROM reports_report r WHERE r.id = ANY(%(ids)s)
), cells AS (
    SELECT s.id, s.location, s.old, cell.x, cell.y
    FROM suspects s
    CROSS JOIN LATERAL (VALUES (floor(s.gx), floor(s.gy)), (floor(s.gx) - 1, floor(s.gy)),
                               (floor(s.gx), floor(s.gy) - 1),
                               (floor(s.gx) - 1, floor(s.gy) - 1)) AS cell(x, y)
    WHERE (cell.x = floor(s.gx) OR s.gx = floor(s.gx))
      AND (cell.y = floor(s.gy) OR s.gy = floor(s.gy))
), routed AS (
    SELECT c.id, c.old,
           (array_agg(p.district_id ORDER BY d.code) FILTER (WHERE p.id IS NOT NULL))[1] AS new
    FROM cells c
    LEFT JOIN districts_districtpart p
           ON p.cell_x = c.x::integer AND p.cell_y = c.y::integer
          AND (p.whole_cell OR ST_Covers(p.geom, c.location))
    LEFT JOIN districts_district d ON d.id = p.district_id
    GROUP BY c.id, c.old
)
UPDATE reports_report r
SET district_id = routed.new, version = r.version + 1, updated_at = %(now)s
FROM routed WHERE r.id = routed.id AND routed.new IS DISTINCT FROM routed.old
RETURNING r.id
"""


@transaction.atomic
def reports_reroute(*, now: datetime | None = None) -> list[int]:
    """Give every report the district that covers its point now (no district: none), as after
    new district boundaries; returns the ids of the reports whose district changed.

    Same rule as `district_for_point` on the create path. Deadlines and crews are not touched.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        # A bulk statement: JIT compilation costs more than it saves here, and the planner,
        # unsure how many parts share a cell, may sort all reports for a merge join where
        # hashing the few parts is always cheaper.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(_REROUTE_SUSPECTS, {"per_degree": PART_CELLS_PER_DEGREE})
        suspects = [row[0] for row in cursor.fetchall()]
        if not suspects:
            return []
        cursor.execute(
            _REROUTE_WRITE,
            {"ids": suspects, "now": now, "per_degree": PART_CELLS_PER_DEGREE},
        )
        changed = sorted(row[0] for row in cursor.fetchall())
    logger.info("re-route: %d reports examined again, %d moved", len(suspects), len(changed))
    return changed


# Set-based: each report's nearest addresses by KNN (`<->`, index-ordered), measured in metres;
# the same rule as `place_for_point` (address within PLACE_ADDRESS_METERS, else its street
# within PLACE_STREET_METERS, else the district).
_PLACE_NAMES = """
WITH named AS (
    SELECT r.id, coalesce((
        SELECT CASE WHEN near.m <= %(address_m)s THEN near.street || ' ' || near.house_number
                    WHEN near.m <= %(street_m)s THEN near.street END
        FROM (SELECT a.street, a.house_number,
                     ST_Distance(a.location::geography, r.location::geography) AS m
              FROM districts_address a ORDER BY a.location <-> r.location LIMIT 8) near
        ORDER BY near.m LIMIT 1), d.name, '') AS name
    FROM reports_report r LEFT JOIN districts_district d ON d.id = r.district_id
)
UPDATE reports_report r SET place_name = named.name
FROM named WHERE r.id = named.id AND r.place_name IS DISTINCT FROM named.name
RETURNING r.id
"""


@transaction.atomic
def reports_place_names_refresh() -> list[int]:
    """Name every report's place again (after importing the address list); returns the ids of
    the reports whose place name changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PLACE_NAMES, {"address_m": PLACE_ADDRESS_METERS, "street_m": PLACE_STREET_METERS}
        )
        changed = sorted(row[0] for row in cursor.fetchall())
    logger.info("place names: %d reports renamed", len(changed))
    return changed
