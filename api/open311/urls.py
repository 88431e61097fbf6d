from django.urls import path, re_path

from api.open311 import views

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
    re_path(r"^v2/requests" + FMT, views.RequestListView.as_view(), name="requests"),
    re_path(
        r"^v2/requests/(?P<service_request_id>[^/]+?)" + FMT,
        views.RequestDetailView.as_view(),
        name="request-detail",
    ),
    re_path(r"^v2/tokens/(?P<token>[^/]+?)" + FMT, views.TokenView.as_view(), name="token"),
    re_path(r"^v2/.+$", views.UnknownPathView.as_view()),
]
