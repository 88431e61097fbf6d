"""The GeoReport v2 update extension FixMyStreet reads status changes with:
GET servicerequestupdates.{xml,json}?start_date=...&end_date=... -> <service_request_updates>
with one <request_update> per change (update_id, service_request_id, status, updated_datetime,
description, media_url), the element names of FixMyStreet's perllib/Open311.pm."""

from django.db.models import Q
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
    date_window,
)
from api.open311.render import Document
from reports.models import Report, ReportEvent

UPDATE_LIMIT = 1000
STATUS_KINDS = (ReportEvent.Kind.STATUS, ReportEvent.Kind.REOPENED)


def report_updates(*, start, end):
    """Status changes (whether or not their note is public) and public notes, oldest first."""
    return (
        ReportEvent.objects.filter(created_at__gte=start, created_at__lte=end)
        .filter(Q(kind__in=STATUS_KINDS) | Q(kind=ReportEvent.Kind.NOTE, public=True))
        .select_related("report", "photo")
        .order_by("created_at", "id")
    )


def update_entry(event: ReportEvent, *, build_absolute_uri) -> dict:
    report = event.report
    status = event.to_status or report.status
    visible = report.is_published and event.public
    photo = event.photo
    shown = visible and photo is not None and photo.is_public and photo.public_image
    media = build_absolute_uri(photo.public_image.url) if shown else None
    return {
        "update_id": event.pk,
        "service_request_id": report.pk,
        "status": "open" if status in Report.OPEN_STATUSES else "closed",
        # Our own status word, for clients that map more than open/closed.
        "external_status_code": status,
        "updated_datetime": mappers.w3c(event.created_at),
        "description": (event.note or None) if visible else None,
        "media_url": media,
    }


class ServiceRequestUpdatesView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET service request updates (the extension FixMyStreet uses)",
        description=(
            "Every status change and public note in the window, oldest first, at most "
            f"{UPDATE_LIMIT}: ask again from the last updated_datetime for more. Without dates, "
            "the last 90 days. A request waiting for moderation shows its status changes "
            "without text or photo. `api_key` may be sent and is not needed."
        ),
        parameters=[
            FORMAT_PARAMETER,
            JURISDICTION_PARAMETER,
            OpenApiParameter("start_date", OpenApiTypes.DATETIME),
            OpenApiParameter("end_date", OpenApiTypes.DATETIME),
            OpenApiParameter("api_key", OpenApiTypes.STR, description="accepted, not needed"),
        ],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, fmt: str) -> Response:
        start, end = date_window(request.query_params)
        events = report_updates(start=start, end=end)[:UPDATE_LIMIT]
        body = [
            update_entry(event, build_absolute_uri=request.build_absolute_uri) for event in events
        ]
        return Response(Document("service_request_updates", body))
