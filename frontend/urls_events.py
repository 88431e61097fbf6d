from django.urls import path

from frontend import views_events as views

urlpatterns = [
    path("", views.event_list, name="event-list"),
    path("<int:pk>/", views.event_detail, name="event-detail"),
    path("<int:pk>.ics", views.event_ics, name="event-ics"),
]
