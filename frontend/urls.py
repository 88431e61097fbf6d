from django.urls import include, path

from frontend import views, views_follow, views_map

app_name = "frontend"

urlpatterns = [
    path("", views_map.home, name="home"),
    path("map/reports.geojson", views_map.map_reports, name="map-reports"),
    path("report/new/", views.report_new, name="report-new"),
    path("r/<str:token>/", views.track, name="track"),
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    path("reports/<int:pk>/seen/", views_follow.report_seen, name="report-seen"),
    path("reports/<int:pk>/follow/", views_follow.report_follow, name="report-follow"),
    path("follow/<str:token>/confirm/", views_follow.follow_confirm, name="subscription-confirm"),
    path("follow/<str:token>/stop/", views_follow.follow_stop, name="subscription-cancel"),
    # Other pages: one include line per module below.
    path("crew/", include("frontend.urls_crew")),
    path("dispatch/", include("frontend.urls_dispatch")),
    path("events/", include("frontend.urls_events")),
    path("staff/", include("frontend.urls_staff")),
    path("privacy/", include("frontend.urls_privacy")),
]
