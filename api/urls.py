from django.urls import include, path

from api import views

app_name = "api"

urlpatterns = [
    path("reports/", views.ReportListCreateApi.as_view(), name="report-list"),
    path("reports/<int:pk>/", views.ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<int:pk>/flag/", views.ReportFlagApi.as_view(), name="report-flag"),
    path("categories/", views.CategoryListApi.as_view(), name="category-list"),
    path("districts/", views.DistrictListApi.as_view(), name="district-list"),
    path("route/", views.RoutePreviewApi.as_view(), name="route-preview"),
    path("", include("api.resident_views")),
    path("dispatch/", include("api.urls_dispatch")),
    path("crew/", include("api.urls_crew")),
    path("", include("api.urls_events")),
    path("", include("api.urls_geo")),
]
