"""Small geometry helpers shared by every app that stores points in WGS 84 degrees."""

import math

from django.contrib.gis.geos import Point


def degrees_covering(*, point: Point, metres: float) -> float:
    """A radius in degrees around `point` that surely contains every place within `metres`.

    Geometry columns are in degrees, where PostGIS refuses a metre distance: a `dwithin` with
    this radius lets the spatial index pick the candidates, and an exact metre test on the
    sphere or spheroid then decides. The radius errs on the large side (one degree of latitude
    is at least 110 km; a degree of longitude shrinks with the cosine of the latitude, plus a
    margin), since a too-small one would silently drop matches.
    """
    return 1.5 * metres / (110_000 * max(math.cos(math.radians(point.y)), 0.01))
