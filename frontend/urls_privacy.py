from django.urls import path

from frontend import views_privacy as views

app_name = "privacy"

urlpatterns = [
    path("<str:token>/", views.contact_delete, name="contact-delete"),
    path("flag/<int:pk>/", views.report_flag, name="flag"),
]
