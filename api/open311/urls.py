from django.urls import path, re_path

from api.open311 import requests_views, updates, views

app_name = "open311"

FMT = r"\.(?P<fmt>[A-Za-z0-9]+)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, views.DiscoveryView.as_view(), name="discovery"),
    path("v2/", views.RootView.as_view(), name="root"),
    re_path(r"^v2/discovery" + FMT, views.DiscoveryView.as_view(), name="v2-discovery"),
    re_path(r"^v2/services" + FMT, views.ServiceListView.as_view(), name="services"),
    re_path(
        r"^v2/services/(?P<service_code>[^/]+?)" + FMT,
        views.ServiceDefinitionView.as_view(),
        name="service-definition",
    ),
    re_path(r"^v2/requests" + FMT, requests_views.RequestListView.as_view(), name="requests"),
    re_path(
        r"^v2/requests/(?P<service_request_id>[^/]+?)" + FMT,
        requests_views.RequestDetailView.as_view(),
        name="request-detail",
    ),
    re_path(r"^v2/tokens/(?P<token>[^/]+?)" + FMT, views.TokenView.as_view(), name="token"),
    # The GeoReport v2 update extension FixMyStreet reads status changes with.
    re_path(
        r"^v2/servicerequestupdates" + FMT,
        updates.ServiceRequestUpdatesView.as_view(),
        name="service-request-updates",
    ),
    re_path(r"^v2/.+$", views.UnknownPathView.as_view()),
]
