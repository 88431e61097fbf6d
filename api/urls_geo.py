"""Map layers built by the database: GeoJSON of public reports and vector tiles."""

from django.urls import path

from api import geo_views

urlpatterns = [
    path("map/reports.geojson", geo_views.reports_geojson, name="map-reports-geojson"),
    path("map/reports/<int:pk>.geojson", geo_views.report_feature, name="map-report-feature"),
    path("map/districts.geojson", geo_views.districts_geojson, name="map-districts-geojson"),
    path(
        "tiles/reports/<int:z>/<int:x>/<int:y>.pbf",
        geo_views.report_tile,
        name="tiles-reports",
    ),
    path(
        "tiles/events/<int:z>/<int:x>/<int:y>.pbf",
        geo_views.event_tile,
        name="tiles-events",
    ),
]
