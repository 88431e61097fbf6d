"""GET and POST requests, GET one request."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from api.open311 import mappers
from api.open311.base import (
    DOCUMENT_RESPONSES,
    ERROR_RESPONSES,
    FORMAT_PARAMETER,
    JURISDICTION_PARAMETER,
    Open311View,
    date_window,
    split_list,
)
from api.open311.errors import BadRequest, NotFound
from api.open311.render import Document
from api.open311.submit import IDEMPOTENCY_NAMESPACE, request_submit
from core.throttles import Open311IPThrottle, Open311KeyThrottle
from reports.models import Report
from reports.selectors import report_list

__all__ = ["IDEMPOTENCY_NAMESPACE", "RequestDetailView", "RequestListView"]

DEFAULT_LIMIT = 1000


def _ids(value: str) -> list[int]:
    ids = split_list(value)
    if not all(i.isdigit() and len(i) < 19 for i in ids):
        raise BadRequest(_("service_request_id must be a comma-separated list of numbers."))
    return [int(i) for i in ids]


class RequestListView(Open311View):
    throttle_classes = [Open311IPThrottle, Open311KeyThrottle]

    @extend_schema(
        tags=["open311"],
        summary="GET requests: service requests, newest first (90 days / 1000 by default)",
        description=(
            "A list of ids (`service_request_id`) answers every one of them that exists, also "
            "a request still waiting for moderation (then only its status and service)."
        ),
        parameters=[
            FORMAT_PARAMETER,
            JURISDICTION_PARAMETER,
            OpenApiParameter(
                "service_request_id",
                {"type": "string", "pattern": r"^[ ,]*([0-9]{1,18}[ ,]*)*$"},
                description="comma list; overrides all other filters",
            ),
            OpenApiParameter("service_code", OpenApiTypes.STR, description="comma list"),
            OpenApiParameter("start_date", OpenApiTypes.DATETIME),
            OpenApiParameter("end_date", OpenApiTypes.DATETIME),
            OpenApiParameter("status", OpenApiTypes.STR, description="open, closed or both"),
        ],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, fmt: str) -> Response:
        query = request.query_params
        ids = _ids(query.get("service_request_id", ""))
        if ids:
            reports = report_list(published_only=False).filter(pk__in=ids)
        else:
            reports = report_list()
            codes = split_list(query.get("service_code", ""))
            if codes:
                reports = reports.filter(category__code__in=codes)
            statuses = {s.lower() for s in split_list(query.get("status", ""))}
            if statuses - {"open", "closed"}:
                raise BadRequest(_("status must be open, closed or both (comma-separated)."))
            if statuses == {"open"}:
                reports = reports.filter(status__in=Report.OPEN_STATUSES)
            elif statuses == {"closed"}:
                reports = reports.exclude(status__in=Report.OPEN_STATUSES)
            start, end = date_window(query)
            reports = reports.filter(created_at__gte=start, created_at__lte=end)
        reports = mappers.with_open311_related(reports).order_by("-created_at", "-id")
        body = [
            mappers.request_entry(report, build_absolute_uri=request.build_absolute_uri)
            for report in reports[:DEFAULT_LIMIT]
        ]
        return Response(Document("service_requests", body))

    @extend_schema(
        tags=["open311"],
        summary="POST a service request (form-encoded; multipart for photos)",
        description=(
            "Needs `api_key`. Location: `lat` and `long` (an `address_string` alone cannot be "
            "placed: there is no geocoder). Photos: multipart fields `media`, `media[]` or "
            "`photo1`, `photo2`, ...; a `media_url` is never fetched, only echoed when no photo "
            "is uploaded. A service that needs a photo accepts a `media_url` in its place: the "
            "request is stored and flagged 'photo missing' for the dispatcher. Extra answers "
            "as `attribute[code]`. A repeated `Idempotency-Key` header returns the first "
            "request's id instead of creating another."
        ),
        parameters=[
            FORMAT_PARAMETER,
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        request={
            "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
            "multipart/form-data": OpenApiTypes.OBJECT,
        },
        responses={
            (201, "text/xml"): OpenApiTypes.STR,
            (201, "application/json"): OpenApiTypes.OBJECT,
            **ERROR_RESPONSES,
            403: OpenApiResponse(description="errors: missing, unknown or revoked api_key"),
            429: OpenApiResponse(description="errors: too many requests"),
        },
    )
    def post(self, request, fmt: str) -> Response:
        report, created = request_submit(request)
        body = [
            {
                "service_request_id": report.pk,
                "service_notice": mappers.service_notice(report),
                "account_id": None,
            }
        ]
        return Response(Document("service_requests", body), status=201 if created else 200)


class RequestDetailView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET one service request",
        description=(
            "Every id a POST answered is found here. A request waiting for moderation (or "
            "hidden by the city) shows only its status and service, no text, place or photo."
        ),
        parameters=[FORMAT_PARAMETER, JURISDICTION_PARAMETER],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, service_request_id: str, fmt: str) -> Response:
        report = None
        if service_request_id.isdigit() and len(service_request_id) < 19:
            report = (
                mappers.with_open311_related(report_list(published_only=False))
                .filter(pk=int(service_request_id))
                .first()
            )
        if report is None:
            raise NotFound(_("service_request_id '%(id)s' not found.") % {"id": service_request_id})
        entry = mappers.request_entry(report, build_absolute_uri=request.build_absolute_uri)
        return Response(Document("service_requests", [entry]))
