"""Small geometry helpers shared by every app that stores points in WGS 84 degrees.

Distances in metres have one meaning everywhere: on the spheroid (PostGIS `geography`), the
same for "within N metres" (`within_metres`), a distance shown or sorted by (`distance_to`) and
the distance between two points (`metres_between`).
"""

import math

from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import BooleanField, F, Func, QuerySet, Value


def degrees_covering(*, point: Point, metres: float) -> float:
    """A radius in degrees around `point` that surely contains every place within `metres`.

    Geometry columns are in degrees, where PostGIS refuses a metre distance: a `dwithin` with
    this radius lets the spatial index pick the candidates, and an exact metre test on the
    sphere or spheroid then decides. The radius errs on the large side (one degree of latitude
    is at least 110 km; a degree of longitude shrinks with the cosine of the latitude, plus a
    margin), since a too-small one would silently drop matches.
    """
    return degrees_covering_at(latitude=point.y, metres=metres)


def degrees_covering_at(*, latitude: float, metres: float) -> float:
    """`degrees_covering` for a point at `latitude` (without asking GEOS for it again)."""
    return 1.5 * metres / (110_000 * max(math.cos(math.radians(latitude)), 0.01))


class _DWithinMetres(Func):
    """ST_DWithin on geography: true metres on the spheroid (the column is 4326 geometry)."""

    output_field = BooleanField()
    arg_joiner = "::geography, "
    template = "ST_DWithin(%(expressions)s::geography, %(metres)s)"


def within_metres(queryset: QuerySet, *, field: str, point: Point, metres: float) -> QuerySet:
    """Rows whose `field` lies within `metres` of `point` (on the spheroid).

    A degree-based `dwithin` that surely covers the circle lets the spatial index pick the
    candidates; the geography test then decides exactly.
    """
    degrees = degrees_covering(point=point, metres=metres)
    return queryset.filter(**{f"{field}__dwithin": (point, degrees)}).filter(
        _DWithinMetres(
            F(field), Value(point, output_field=PointField(srid=4326)), metres=float(metres)
        )
    )


def distance_to(field: str, point: Point) -> Distance:
    """An annotation: the distance from `field` to `point` on the spheroid (a D; `.m`)."""
    return Distance(field, point, spheroid=True)


def metres_between(a: Point, b: Point) -> float:
    """The distance between two points in metres, on the spheroid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Distance(%s::geography, %s::geography)",
            [connection.ops.Adapter(a), connection.ops.Adapter(b)],
        )
        return float(cursor.fetchone()[0])
