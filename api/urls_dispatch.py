from django.urls import path

from api import dispatch_views as views

app_name = "dispatch"

urlpatterns = [
    path("tickets/", views.OpenTicketsApi.as_view(), name="tickets"),
    path("tiles/tickets/<int:z>/<int:x>/<int:y>.pbf", views.TicketTileApi.as_view(), name="tiles"),
    path("tickets/<int:pk>/reassign/", views.ReassignApi.as_view(), name="reassign"),
    path("tickets/<int:pk>/category/", views.CategoryApi.as_view(), name="category"),
    path("tickets/<int:pk>/priority/", views.PriorityApi.as_view(), name="priority"),
    path("tickets/<int:pk>/merge/", views.MergeApi.as_view(), name="merge"),
    path("tickets/<int:pk>/reopen/", views.ReopenApi.as_view(), name="reopen"),
    path("tickets/<int:pk>/release/", views.ReleaseApi.as_view(), name="release"),
    path("stats/", views.StatsApi.as_view(), name="stats"),
    path("hotspots/", views.HotspotsApi.as_view(), name="hotspots"),
    path("preventive-tasks/", views.PreventiveTaskCreateApi.as_view(), name="preventive-create"),
    path("export.csv", views.ExportCsvApi.as_view(), name="export-csv"),
    path("export.geojson", views.ExportGeoJsonApi.as_view(), name="export-geojson"),
]
