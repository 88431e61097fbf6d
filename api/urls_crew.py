from django.urls import path

from api import crew_views as views

app_name = "crew"

urlpatterns = [
    path("token/", views.CrewTokenApi.as_view(), name="token"),
    path("tickets/", views.CrewQueueApi.as_view(), name="queue"),
    path("tickets/<int:pk>/", views.CrewTicketApi.as_view(), name="ticket-detail"),
    path("tickets/<int:pk>/start/", views.CrewStartApi.as_view(), name="ticket-start"),
    path("tickets/<int:pk>/close/", views.CrewCloseApi.as_view(), name="ticket-close"),
    path("tickets/<int:pk>/reject/", views.CrewRejectApi.as_view(), name="ticket-reject"),
    path("tickets/<int:pk>/duplicate/", views.CrewDuplicateApi.as_view(), name="ticket-duplicate"),
    path("plan/", views.CrewPlanApi.as_view(), name="plan"),
]
