from django.urls import path

from frontend import views_crew as views

app_name = "crew"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("plan/", views.plan, name="plan"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
]
