"""Coarsening a point for public output: the centre of a grid cell of about `grid_m` metres."""

import math

from django.contrib.gis.geos import Point

METRES_PER_DEGREE = 111_320.0


def public_point(*, point: Point, grid_m: int) -> Point:
    """The point the public sees: `point` itself when `grid_m` is 0, else the centre of its cell.

    Cells are `grid_m` metres tall (a fixed step in latitude) and `grid_m` metres wide at the
    latitude of their row's centre, so every point of a cell maps to the same centre and the
    public point is at most about 0.71 × grid_m from the true one.
    """
    if not grid_m:
        return Point(point.x, point.y, srid=4326)
    lat_step = grid_m / METRES_PER_DEGREE
    row = math.floor(point.y / lat_step)
    lat = (row + 0.5) * lat_step
    lon_step = grid_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    col = math.floor(point.x / lon_step)
    lon = (col + 0.5) * lon_step
    return Point(round(lon, 7), round(lat, 7), srid=4326)
