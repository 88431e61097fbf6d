"""Open311 GeoReport v2 endpoints (http://wiki.open311.org/GeoReport_v2), as an adapter over
the same services the rest of civicmap uses. Documents are built in `mappers`, written as XML
or JSON in `render`; every error is answered in the spec's form (`errors`)."""

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.open311 import inputs, mappers
from api.open311.errors import BadRequest, Forbidden, NotFound, Open311Error, from_validation_error
from api.open311.keys import client_for_key, client_touch
from api.open311.render import Document, Open311JSONRenderer, Open311XMLRenderer
from api.throttles import Open311IPThrottle, Open311KeyThrottle
from crews.services import report_dispatch
from reports.models import Category, IdempotencyKey, Report
from reports.selectors import category_list, report_list
from reports.services import CREATE_SCOPE, report_create

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000  # the spec's limit for description
DEFAULT_DAYS = 90
DEFAULT_LIMIT = 1000
IDEMPOTENCY_NAMESPACE = "open311:"
MAX_IDEMPOTENCY_KEY = 150
# Categories carry no timestamp: the process start is the changeset clients refresh caches by.
_STARTED = timezone.now()

FORMAT_PARAMETER = OpenApiParameter(
    "fmt",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=["xml", "json"],
    description="Response format: the path ends in .xml or .json.",
)
JURISDICTION_PARAMETER = OpenApiParameter(
    "jurisdiction_id",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    description="Optional; when given it must be this installation's jurisdiction.",
)
DOCUMENT_RESPONSES = {
    (200, "text/xml"): OpenApiTypes.STR,
    (200, "application/json"): OpenApiTypes.OBJECT,
}
ERROR_RESPONSES = {
    400: OpenApiResponse(description="errors: bad or missing parameter"),
    404: OpenApiResponse(description="errors: unknown jurisdiction, service or request"),
}


class Open311View(APIView):
    """Common ground: the .xml/.json suffix chooses the renderer, no session or CSRF (clients
    authenticate POSTs with api_key), jurisdiction_id checked, errors in the spec's form."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [Open311XMLRenderer, Open311JSONRenderer]
    parser_classes = [FormParser, MultiPartParser]
    throttle_classes: list = []

    def get_format_suffix(self, **kwargs) -> str | None:
        # The suffix is not called `format`: DRF's schema generation skips such paths.
        return kwargs.get("fmt")

    def initial(self, request, *args, **kwargs) -> None:
        fmt = kwargs.get("fmt")
        if fmt not in ("xml", "json"):
            raise BadRequest(
                _("Format '%(format)s' is not supported; end the path in .xml or .json.")
                % {"format": fmt}
            )
        super().initial(request, *args, **kwargs)
        self.check_jurisdiction(request)

    def check_jurisdiction(self, request) -> None:
        sent = request.query_params.get("jurisdiction_id", "")
        if request.method == "POST" and not sent:
            sent = request.POST.get("jurisdiction_id", "")
        sent = sent.strip()
        if sent and sent != settings.OPEN311_JURISDICTION_ID:
            raise NotFound(
                _("jurisdiction_id '%(sent)s' not found; this endpoint serves '%(ours)s'.")
                % {"sent": sent, "ours": settings.OPEN311_JURISDICTION_ID}
            )

    def check_throttles(self, request) -> None:
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                wait = math.ceil(throttle.wait() or 1)
                error = Open311Error(
                    429,
                    _(
                        "Too many requests from this %(what)s: at most %(number)s per "
                        "%(period)s seconds. Try again in %(wait)s seconds."
                    )
                    % {
                        "what": throttle.what,
                        "number": throttle.num_requests,
                        "period": throttle.duration,
                        "wait": wait,
                    },
                )
                error.retry_after = wait
                raise error

    def handle_exception(self, exc):
        if isinstance(exc, ValidationError):
            exc = from_validation_error(exc)
        elif isinstance(exc, Http404 | drf_exceptions.NotFound):
            exc = NotFound(str(exc) or _("Not found."))
        elif isinstance(exc, drf_exceptions.APIException) and not isinstance(exc, Open311Error):
            status = 403 if exc.status_code in (401, 403) else 400
            exc = Open311Error(status, str(exc.detail))
        if not isinstance(exc, Open311Error):
            return super().handle_exception(exc)
        if not getattr(self.request, "accepted_renderer", None):
            self.request.accepted_renderer = Open311XMLRenderer()
            self.request.accepted_media_type = Open311XMLRenderer.media_type
        response = Response(exc.document(), status=exc.status)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


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


def _category(code: str) -> Category:
    category = category_list().filter(code=code).first()
    if category is None:
        raise NotFound(_("service_code '%(code)s' not found.") % {"code": code})
    return category


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
            Document("service_definition", mappers.service_definition(_category(service_code)))
        )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class RequestListView(Open311View):
    throttle_classes = [Open311IPThrottle, Open311KeyThrottle]

    @extend_schema(
        tags=["open311"],
        summary="GET requests: service requests, newest first (90 days / 1000 by default)",
        parameters=[
            FORMAT_PARAMETER,
            JURISDICTION_PARAMETER,
            OpenApiParameter(
                "service_request_id",
                OpenApiTypes.STR,
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
        reports = report_list()
        ids = _split(query.get("service_request_id", ""))
        if ids:
            if not all(i.isdigit() for i in ids):
                raise BadRequest(_("service_request_id must be a comma-separated list of numbers."))
            reports = reports.filter(pk__in=[int(i) for i in ids])
        else:
            codes = _split(query.get("service_code", ""))
            if codes:
                reports = reports.filter(category__code__in=codes)
            statuses = {s.lower() for s in _split(query.get("status", ""))}
            if statuses - {"open", "closed"}:
                raise BadRequest(_("status must be open, closed or both (comma-separated)."))
            if statuses == {"open"}:
                reports = reports.filter(status__in=Report.OPEN_STATUSES)
            elif statuses == {"closed"}:
                reports = reports.exclude(status__in=Report.OPEN_STATUSES)
            start, end = self._window(query)
            reports = reports.filter(created_at__gte=start, created_at__lte=end)
        reports = mappers.with_open311_related(reports).order_by("-created_at", "-id")
        body = [
            mappers.request_entry(report, build_absolute_uri=request.build_absolute_uri)
            for report in reports[:DEFAULT_LIMIT]
        ]
        return Response(Document("service_requests", body))

    def _window(self, query):
        start = query.get("start_date", "").strip()
        end = query.get("end_date", "").strip()
        start = inputs.parse_w3c_datetime(start, name="start_date") if start else None
        end = inputs.parse_w3c_datetime(end, name="end_date") if end else None
        span = timedelta(days=DEFAULT_DAYS)
        if start and end:
            if end < start:
                raise BadRequest(_("end_date is before start_date."))
            if end - start > span:
                raise BadRequest(
                    _("start_date and end_date may not span more than %(days)s days.")
                    % {"days": DEFAULT_DAYS}
                )
        elif start:
            end = start + span
        elif end:
            start = end - span
        else:
            end = timezone.now()
            start = end - span
        return start, end

    @extend_schema(
        tags=["open311"],
        summary="POST a service request (form-encoded; multipart for photos)",
        description=(
            "Needs `api_key`. Location: `lat` and `long` (an `address_string` alone cannot be "
            "placed: there is no geocoder). Photos: multipart fields `media`, `media[]` or "
            "`photo1`, `photo2`, ...; a `media_url` is never fetched, only echoed when no photo "
            "is uploaded. Extra answers as `attribute[code]`. A repeated `Idempotency-Key` "
            "header returns the first request's id instead of creating another."
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
        data = request.data
        key = data.get("api_key") or request.query_params.get("api_key") or ""
        if not key:
            raise Forbidden(_("api_key is missing -- can't proceed with create_request."))
        client = client_for_key(key=key)
        if client is None:
            raise Forbidden(_("Invalid api_key received -- can't proceed with create_request."))
        client_touch(client=client)

        code = data.get("service_code", "").strip()
        if not code:
            raise BadRequest(_("service_code was not provided."))
        category = _category(code)

        photos = inputs.photo_uploads(request.FILES)
        location = self._location(data, has_photos=bool(photos))
        description = data.get("description", "")
        if len(description) > MAX_DESCRIPTION:
            raise BadRequest(
                _("description is longer than %(limit)s characters.") % {"limit": MAX_DESCRIPTION}
            )
        attributes = inputs.attributes_validate(
            category=category, submitted=inputs.submitted_attributes(data)
        )
        media_urls = [u for u in data.getlist("media_url") if u.strip()]
        if media_urls and not photos:
            # Never fetched (no outbound requests); kept to echo back as the request's media_url.
            attributes[mappers.MEDIA_URL_ATTRIBUTE] = inputs.parse_media_url(media_urls[0])
        if category.photo_required and not photos:
            raise BadRequest(
                _(
                    "media: a photo is required for service_code '%(code)s'. Upload it in the "
                    "multipart field 'media' (a media_url is not fetched)."
                )
                % {"code": category.code}
            )
        name = " ".join(
            part.strip() for part in (data.get("first_name", ""), data.get("last_name", ""))
        ).strip()
        idempotency = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency) > MAX_IDEMPOTENCY_KEY:
            raise BadRequest(
                _("The Idempotency-Key header may have at most %(limit)s characters.")
                % {"limit": MAX_IDEMPOTENCY_KEY}
            )
        report, created = report_create(
            category=category,
            location=location,
            description=description,
            photos=photos,
            email=data.get("email", ""),
            reporter_name=name,
            reporter_phone=data.get("phone", ""),
            address=data.get("address_string", ""),
            attributes=attributes,
            source=Report.Source.OPEN311,
            idempotency_key=f"{IDEMPOTENCY_NAMESPACE}{idempotency}" if idempotency else None,
        )
        if created:
            report_dispatch(report=report)
            logger.info("Open311 request %s from client %s", report.pk, client.pk)
        report.refresh_from_db()
        body = [
            {
                "service_request_id": report.pk,
                "service_notice": mappers.service_notice(report),
                "account_id": None,
            }
        ]
        return Response(Document("service_requests", body), status=201 if created else 200)

    def _location(self, data, *, has_photos: bool) -> Point | None:
        lat, lon = data.get("lat", "").strip(), data.get("long", "").strip()
        if lat or lon:
            if not (lat and lon):
                raise BadRequest(_("lat and long must both be sent."))
            return Point(
                inputs.parse_coordinate(lon, name="long", limit=180),
                inputs.parse_coordinate(lat, name="lat", limit=90),
                srid=4326,
            )
        if has_photos:
            return None  # the photo's GPS position may place it; report_create decides
        if data.get("address_string", "").strip() or data.get("address_id", "").strip():
            raise BadRequest(
                _(
                    "address_string and address_id cannot be placed on the map here (no "
                    "geocoder); please send lat and long."
                )
            )
        raise BadRequest(_("A location is required: send lat and long."))


class RequestDetailView(Open311View):
    @extend_schema(
        tags=["open311"],
        summary="GET one service request",
        parameters=[FORMAT_PARAMETER, JURISDICTION_PARAMETER],
        responses={**DOCUMENT_RESPONSES, **ERROR_RESPONSES},
    )
    def get(self, request, service_request_id: str, fmt: str) -> Response:
        report = None
        if service_request_id.isdigit():
            report = (
                mappers.with_open311_related(report_list())
                .filter(pk=int(service_request_id))
                .first()
            )
        if report is None:
            raise NotFound(_("service_request_id '%(id)s' not found.") % {"id": service_request_id})
        entry = mappers.request_entry(report, build_absolute_uri=request.build_absolute_uri)
        return Response(Document("service_requests", [entry]))


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
        found = (
            IdempotencyKey.objects.filter(scope=CREATE_SCOPE, key=f"{IDEMPOTENCY_NAMESPACE}{token}")
            .values_list("report_id", flat=True)
            .first()
        )
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
