"""What every Open311 GeoReport v2 endpoint shares: the .xml/.json suffix, the jurisdiction
check, errors in the spec's form (also for throttling and wrong methods), the date window."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.open311 import inputs
from api.open311.errors import BadRequest, NotFound, Open311Error, from_validation_error
from api.open311.render import Open311JSONRenderer, Open311XMLRenderer
from reports.idempotency import IdempotencyKeyReused
from reports.models import Category
from reports.selectors import category_list

DEFAULT_DAYS = 90

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

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise Open311Error(
            405,
            _("Method %(method)s is not allowed here; use %(allowed)s.")
            % {"method": request.method, "allowed": ", ".join(self._allowed_methods())},
        )

    def handle_exception(self, exc):
        if isinstance(exc, ValidationError):
            exc = from_validation_error(exc)
        elif isinstance(exc, IdempotencyKeyReused):
            exc = Open311Error(422, _(str(exc)))
        elif isinstance(exc, Http404 | drf_exceptions.NotFound):
            exc = NotFound(str(exc) or _("Not found."))
        elif isinstance(exc, drf_exceptions.APIException) and not isinstance(exc, Open311Error):
            status = 403 if exc.status_code in (401, 403) else 400
            exc = Open311Error(status, str(exc.detail))
        if not isinstance(exc, Open311Error):
            return super().handle_exception(exc)
        if not getattr(self.request, "accepted_renderer", None):
            json = self.request.path.endswith(".json") or (self.request.GET.get("format") == "json")
            renderer = Open311JSONRenderer() if json else Open311XMLRenderer()
            self.request.accepted_renderer = renderer
            self.request.accepted_media_type = renderer.media_type
        response = Response(exc.document(), status=exc.status)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        if exc.status == 405:
            response["Allow"] = ", ".join(self._allowed_methods())
        return response

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


def category_for_code(code: str) -> Category:
    category = category_list().filter(code=code).first()
    if category is None:
        raise NotFound(_("service_code '%(code)s' not found.") % {"code": code})
    return category


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def date_window(query, *, days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """start_date/end_date as the spec reads them: both, one (the other `days` away) or
    neither (the last `days` days); a window longer than `days` is refused."""
    start = query.get("start_date", "").strip()
    end = query.get("end_date", "").strip()
    start = inputs.parse_w3c_datetime(start, name="start_date") if start else None
    end = inputs.parse_w3c_datetime(end, name="end_date") if end else None
    span = timedelta(days=days)
    if start and end:
        if end < start:
            raise BadRequest(_("end_date is before start_date."))
        if end - start > span:
            raise BadRequest(
                _("start_date and end_date may not span more than %(days)s days.") % {"days": days}
            )
    elif start:
        end = start + span
    elif end:
        start = end - span
    else:
        end = timezone.now()
        start = end - span
    return start, end
