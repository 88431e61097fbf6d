"""Open311 GeoReport v2 endpoints (http://wiki.open311.org/GeoReport_v2), as an adapter over
the same services the rest of civicmap uses. Documents are built in `mappers`, written as XML
or JSON in `render`; every error is answered in the spec's form (`errors`, `base`).

Discovery, services and tokens are here; service requests in `requests_views`, the
FixMyStreet update extension in `updates`."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from api.open311 import mappers
from api.open311.base import (
    DOCUMENT_RESPONSES,
    ERROR_RESPONSES,
    FORMAT_PARAMETER,
    JURISDICTION_PARAMETER,
    Open311View,
    category_for_code,
)
from api.open311.errors import NotFound
from api.open311.keys import client_for_key
from api.open311.render import Document
from api.open311.submit import IDEMPOTENCY_NAMESPACE
from reports.models import IdempotencyKey
from reports.selectors import category_list
from reports.services import CREATE_SCOPE

# Categories carry no timestamp: the process start is the changeset clients refresh caches by.
_STARTED = timezone.now()


class DiscoveryView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="Open311 service discovery: where the GeoReport v2 endpoint is",
        parameters=[FORMAT_PARAMETER],
        responses=DOCUMENT_RESPONSES,
    )
    def get(self, request, fmt: str) -> Response:
        body = mappers.discovery_body(
            endpoint_url=self.absolute(reverse("open311:root")), changeset=_STARTED
        )
        return Response(Document("discovery", body))


class RootView(DiscoveryView):
    """/open311/v2/ itself answers the discovery document (XML unless ?format=json)."""

    def initial(self, request, *args, **kwargs) -> None:
        kwargs["fmt"] = request.query_params.get("format") or "xml"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=["open311"],
        summary="Open311 GeoReport v2 root: the discovery document",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["xml", "json"], required=False)
        ],
        responses=DOCUMENT_RESPONSES,
    )
    def get(self, request) -> Response:
        return super().get(request, self.format_kwarg)


class ServiceListView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET services: one service per active category",
        parameters=[FORMAT_PARAMETER, JURISDICTION_PARAMETER],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, fmt: str) -> Response:
        return Response(Document("services", [mappers.service_entry(c) for c in category_list()]))


class ServiceDefinitionView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET service definition: the extra attributes a service asks for",
        parameters=[FORMAT_PARAMETER, JURISDICTION_PARAMETER],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, service_code: str, fmt: str) -> Response:
        return Response(
            Document(
                "service_definition", mappers.service_definition(category_for_code(service_code))
            )
        )


class TokenView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET service_request_id from a token",
        description=(
            "Requests are created at once (type realtime), so POST answers the "
            "service_request_id and no token. A token here is the Idempotency-Key a client "
            "sent with its POST: a client that lost the answer can look the id up with it."
        ),
        parameters=[FORMAT_PARAMETER, JURISDICTION_PARAMETER],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, token: str, fmt: str) -> Response:
        # Keys are stored per client (`open311:k<client>:<token>`, core.idempotency): with the
        # client's api_key only its own; without one, any client's (an id is no secret; the
        # tracking token and contact data are never part of this answer).
        key = request.query_params.get("api_key", "")
        client = client_for_key(key=key) if key else None
        rows = IdempotencyKey.objects.filter(scope=CREATE_SCOPE)
        if client is not None:
            rows = rows.filter(key=f"{IDEMPOTENCY_NAMESPACE}k{client.pk}:{token}")
        else:
            rows = rows.filter(
                key__startswith=IDEMPOTENCY_NAMESPACE,
                key__endswith=f":{token}",
            )
        found = rows.order_by("pk").values_list("report_id", flat=True).first()
        if found is None:
            raise NotFound(_("token '%(token)s' not found.") % {"token": token})
        return Response(
            Document("service_requests", [{"service_request_id": found, "token": token}])
        )


class UnknownPathView(Open311View):
    """Anything else under /open311/v2/: a spec-form 404 instead of an HTML page."""

    schema = None

    def initial(self, request, *args, **kwargs) -> None:
        kwargs["fmt"] = "json" if request.path.endswith(".json") else "xml"
        super().initial(request, *args, **kwargs)
        raise NotFound(_("There is no Open311 resource at %(path)s.") % {"path": request.path})
