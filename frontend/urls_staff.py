from django.urls import path

from frontend import views_staff as views

app_name = "staff"

urlpatterns = [
    path("", views.moderation, name="moderation"),
    path("reports/<int:pk>/", views.report_review, name="report"),
    path("reports/<int:pk>/moderate/", views.report_moderate_view, name="report-moderate"),
    path("photos/<int:pk>/", views.photo_editor, name="photo"),
    path("photos/<int:pk>/original.jpg", views.photo_original, name="photo-original"),
    path("photos/<int:pk>/moderate/", views.photo_moderate_view, name="photo-moderate"),
    path("personal-data/", views.personal_data, name="personal-data"),
]
