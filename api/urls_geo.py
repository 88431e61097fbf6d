"""Map layers built by the database: GeoJSON of public reports and vector tiles."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from api import geo_views

# Read-only (require_GET): exempt from the CSRF check, so another method gets its 405 instead
# of a 403 from the CSRF middleware.

urlpatterns = [
    path("map/reports.geojson", csrf_exempt(geo_views.reports_geojson), name="map-reports-geojson"),
    path(
        "map/reports/<int:pk>.geojson",
        csrf_exempt(geo_views.report_feature),
        name="map-report-feature",
    ),
    path(
        "map/districts.geojson",
        csrf_exempt(geo_views.districts_geojson),
        name="map-districts-geojson",
    ),
    path(
        "tiles/reports/<int:z>/<int:x>/<int:y>.pbf",
        csrf_exempt(geo_views.report_tile),
        name="tiles-reports",
    ),
    path(
        "tiles/events/<int:z>/<int:x>/<int:y>.pbf",
        csrf_exempt(geo_views.event_tile),
        name="tiles-events",
    ),
]
