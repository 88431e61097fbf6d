from django.urls import include, path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("map/reports.geojson", views.map_reports, name="map-reports"),
    path("report/new/", views.report_new, name="report-new"),
    path("r/<str:token>/", views.track, name="track"),
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    # Other pages: one include line per module below.
    path("crew/", include("frontend.urls_crew")),
    path("dispatch/", include("frontend.urls_dispatch")),
    path("events/", include("frontend.urls_events")),
    path("staff/", include("frontend.urls_staff")),
    path("privacy/", include("frontend.urls_privacy")),
]
