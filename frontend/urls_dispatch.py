from django.urls import path

from frontend import views_dispatch as views
from frontend import views_dispatch_stats as stats
from frontend import views_dispatch_ticket as ticket

app_name = "dispatch"

urlpatterns = [
    path("", views.live_map, name="live"),
    path("login/", views.DispatchLoginView.as_view(), name="login"),
    path("live/", views.live_stream, name="stream"),
    path("reports/<int:pk>/", ticket.ticket, name="ticket"),
    path("reports/<int:pk>/reassign/", ticket.ticket_reassign, name="reassign"),
    path("reports/<int:pk>/category/", ticket.ticket_category, name="category"),
    path("reports/<int:pk>/priority/", ticket.ticket_priority, name="priority"),
    path("reports/<int:pk>/merge/", ticket.ticket_merge, name="merge"),
    path("reports/<int:pk>/reopen/", ticket.ticket_reopen, name="reopen"),
    path("reports/<int:pk>/release/", ticket.ticket_release, name="release"),
    path("reports/<int:pk>/flags/clear/", ticket.ticket_flag_clear, name="flag-clear"),
    path("reports/<int:pk>/seen/", ticket.ticket_seen, name="seen"),
    path("stats/", stats.stats, name="stats"),
    path("hotspots/", stats.hotspots, name="hotspots"),
    path("hotspots/preventive/", stats.preventive_create, name="preventive-create"),
]
