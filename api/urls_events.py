from django.urls import path

from api import events_views as views

urlpatterns = [
    path("events/", views.EventListApi.as_view(), name="event-list"),
    path("events/calendar.ics", views.EventCalendarApi.as_view(), name="event-calendar"),
    path("events/pickups/", views.EventPickupCheckApi.as_view(), name="event-pickups"),
    path("events/<int:pk>/", views.EventDetailApi.as_view(), name="event-detail"),
]
