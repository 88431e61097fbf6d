from django.contrib.gis.geos import Point
from django.db.models import QuerySet

from districts.models import District, ServiceArea


def district_for_point(*, point: Point) -> District | None:
    return District.objects.covering(point).first()


def point_in_service_area(*, point: Point) -> bool:
    """True when the point lies in the service area; with no area loaded, any district counts."""
    if ServiceArea.objects.exists():
        return ServiceArea.objects.filter(boundary__covers=point).exists()
    return District.objects.covering(point).exists()


def district_list() -> QuerySet[District]:
    return District.objects.order_by("name")


def district_get(*, code: str) -> District | None:
    return District.objects.filter(code=code).first()


def districts_geojson(*, tolerance: float = 0.0001) -> str:
    """All districts as one GeoJSON FeatureCollection built by PostGIS, simplified for maps
    (0.0001° ≈ 7–11 m here, invisible at city zoom and a fraction of the bytes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT json_build_object('type', 'FeatureCollection', 'features',
                   coalesce(json_agg(json_build_object(
                       'type', 'Feature',
                       'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(boundary, %s), 6)::json,
                       'properties', json_build_object('code', code, 'name', name, 'kind', kind)
                   ) ORDER BY name), '[]'::json))::text
            FROM districts_district
            """,
            [tolerance],
        )
        return cursor.fetchone()[0]
