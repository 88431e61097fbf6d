"""District boundaries as a coverage: checked when imported, simplified together for maps.

PostGIS 3.3 can neither validate a polygonal coverage nor simplify one without opening gaps
between neighbours; shapely (GEOS' CoverageValidator and CoverageSimplifier) can.
"""

from collections.abc import Sequence

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry

# Where two neighbours are named in an error, the place is given to 5 decimals (about 1 m).
_PLACE = "{names} near {lat:.5f}, {lon:.5f}"


def to_shapely(geometry: GEOSGeometry) -> shapely.Geometry:
    return shapely.from_wkb(bytes(geometry.wkb))


def coverage_problems(named: Sequence[tuple[str, shapely.Geometry]]) -> list[str]:
    """The places where the boundaries do not tile the area, each naming the districts there:
    overlaps and edges that neighbours do not share exactly (`coverage_invalid_edges`), and
    gaps enclosed by districts (holes in their union). Empty when the boundaries tile."""
    names = [name for name, _ in named]
    geoms = np.array([geom for _, geom in named], dtype=object)
    problems: dict[frozenset[str], str] = {}
    for index, edges in enumerate(shapely.coverage_invalid_edges(geoms)):
        if edges is None or edges.is_empty:
            continue
        for edge in getattr(edges, "geoms", [edges]):
            others = [
                names[j] for j, geom in enumerate(geoms) if j != index and geom.intersects(edge)
            ]
            where = edge.interpolate(0.5, normalized=True)
            # One overlap shows up from both sides: name each group of districts once.
            problems.setdefault(
                frozenset([names[index], *others]),
                _PLACE.format(
                    names=" / ".join([names[index], *others]) + " do not meet exactly",
                    lat=where.y,
                    lon=where.x,
                ),
            )
    union = shapely.union_all(geoms)
    for polygon in getattr(union, "geoms", [union]):
        for ring in getattr(polygon, "interiors", []):
            hole = shapely.Polygon(ring)
            around = [names[j] for j, geom in enumerate(geoms) if geom.touches(hole)]
            where = hole.representative_point()
            problems[frozenset(["gap", where.wkt])] = _PLACE.format(
                names="gap between " + " / ".join(around), lat=where.y, lon=where.x
            )
    return list(problems.values())


def coverage_simplified(
    geoms: Sequence[shapely.Geometry], *, tolerance: float, decimals: int = 6
) -> list[shapely.Geometry]:
    """The boundaries simplified together, so that neighbours still share every edge (no gap,
    no overlap at any zoom), with coordinates rounded to `decimals` (the same vertex rounds
    the same way in both neighbours)."""
    simplified = shapely.coverage_simplify(np.array(geoms, dtype=object), tolerance)
    return list(shapely.transform(simplified, lambda xy: np.round(xy, decimals)))
