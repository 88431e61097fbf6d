from django.urls import path

from frontend import views_dispatch as views

app_name = "dispatch"

urlpatterns = [
    path("", views.live_map, name="live"),
    path("login/", views.DispatchLoginView.as_view(), name="login"),
    path("live/", views.live_stream, name="stream"),
    path("reports/<int:pk>/", views.ticket, name="ticket"),
    path("reports/<int:pk>/reassign/", views.ticket_reassign, name="reassign"),
    path("reports/<int:pk>/category/", views.ticket_category, name="category"),
    path("reports/<int:pk>/priority/", views.ticket_priority, name="priority"),
    path("reports/<int:pk>/merge/", views.ticket_merge, name="merge"),
    path("reports/<int:pk>/reopen/", views.ticket_reopen, name="reopen"),
    path("reports/<int:pk>/release/", views.ticket_release, name="release"),
    path("stats/", views.stats, name="stats"),
    path("hotspots/", views.hotspots, name="hotspots"),
    path("hotspots/preventive/", views.preventive_create, name="preventive-create"),
]
