from django.urls import path

from api import views

app_name = "api"

urlpatterns = [
    path("reports/", views.ReportListCreateApi.as_view(), name="report-list"),
    path("reports/<int:pk>/", views.ReportDetailApi.as_view(), name="report-detail"),
    path("categories/", views.CategoryListApi.as_view(), name="category-list"),
    path("districts/", views.DistrictListApi.as_view(), name="district-list"),
    path("route/", views.RoutePreviewApi.as_view(), name="route-preview"),
]
