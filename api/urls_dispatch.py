from django.urls import path

from api import dispatch_report_views as reports
from api import dispatch_views as views

app_name = "dispatch"

urlpatterns = [
    path("tickets/", views.OpenTicketsApi.as_view(), name="tickets"),
    path(
        "tiles/tickets/<int:z>/<int:x>/<int:y>.pbf",
        reports.TicketTileApi.as_view(),
        name="tiles",
    ),
    path("tickets/<int:pk>/reassign/", views.ReassignApi.as_view(), name="reassign"),
    path("tickets/<int:pk>/category/", views.CategoryApi.as_view(), name="category"),
    path("tickets/<int:pk>/priority/", views.PriorityApi.as_view(), name="priority"),
    path("tickets/<int:pk>/merge/", views.MergeApi.as_view(), name="merge"),
    path("tickets/<int:pk>/reopen/", views.ReopenApi.as_view(), name="reopen"),
    path("tickets/<int:pk>/release/", views.ReleaseApi.as_view(), name="release"),
    path("tickets/<int:pk>/flags/clear/", views.FlagClearApi.as_view(), name="flag-clear"),
    path("tickets/<int:pk>/seen/", views.SeenApi.as_view(), name="seen"),
    path("stats/", reports.StatsApi.as_view(), name="stats"),
    path("hotspots/", reports.HotspotsApi.as_view(), name="hotspots"),
    path(
        "preventive-tasks/",
        reports.PreventiveTaskCreateApi.as_view(),
        name="preventive-create",
    ),
    path("export.csv", reports.ExportCsvApi.as_view(), name="export-csv"),
    path("export.geojson", reports.ExportGeoJsonApi.as_view(), name="export-geojson"),
]
