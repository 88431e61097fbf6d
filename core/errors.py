"""Errors in the form each client reads, and input no field can hold refused up front.

Under /api/ every error is JSON (`{"detail": ...}`), under /open311/ Open311's error document
(XML, or JSON for a `.json` path), elsewhere a page. The handlers (`page_not_found`, ...) are
wired in `civicmap.urls`; the middleware also rewrites an error some view answered as HTML
(a 405 from `require_GET`, a 404 from `Http404` outside DRF) under those two prefixes.

PostgreSQL text cannot contain a NUL character: a NUL that reached a query or a save answered
500 wherever it was sent (a path, a query parameter, a form field). No field of ours accepts
one, so a request carrying one is refused here with a readable 400 in the form its client
expects: JSON under /api/, Open311's error document under /open311/, a page elsewhere. Files
in a multipart upload are not text and are not looked at.
"""

import logging
from collections.abc import Callable
from http import HTTPStatus
from xml.sax.saxutils import escape

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)

NUL = "\x00"
_MACHINE_PREFIXES = ("/api/", "/open311/")
_READABLE_TYPES = ("application/json", "application/geo+json", "text/xml", "application/xml")


def status_message(status: int) -> str:
    messages = {
        400: _("The request could not be understood. Please check what was sent."),
        403: _("You are not allowed to do this."),
        404: _("There is nothing at this address."),
        405: _("This method is not allowed at this address."),
        413: _("The request is too large."),
        500: _("Something went wrong on our side. Please try again later."),
    }
    if status in messages:
        return messages[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _("The request could not be answered.")


def error_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """`message` with `status`, as the client at this path reads errors."""
    path = request.path
    if path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    if path.startswith("/open311/"):
        if path.endswith(".json"):
            return JsonResponse(
                [{"code": status, "description": message}], status=status, safe=False
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<errors><error>'
            f"<code>{status}</code><description>{escape(message)}</description>"
            "</error></errors>"
        )
        return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
    try:
        html = render_to_string("error.html", {"status": status, "message": message}, request)
    except Exception:  # noqa: BLE001 - an error page must never fail itself
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    return HttpResponse(html, status=status)


def _has_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            return True
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.content_type or ""
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            for key, values in request.POST.lists():
                if NUL in key or any(NUL in value for value in values):
                    return True
    return False


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(_MACHINE_PREFIXES):
        return error_response(request, 404, status_message(404))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    from core.outage import outage_response  # a lost database or Redis: 503, try again

    return outage_response(request) or error_response(request, 500, status_message(500))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 400, status_message(400))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(_MACHINE_PREFIXES):
        return error_response(request, 403, status_message(403))
    return defaults.permission_denied(request, exception)


def _machine_readable(response: HttpResponse) -> bool:
    content_type = (response.get("Content-Type") or "").split(";")[0].strip()
    return content_type in _READABLE_TYPES or content_type.endswith("+json")


class InputGuardMiddleware:
    """Refuses a NUL anywhere in the text of a request; makes every error under /api/ and
    /open311/ machine-readable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            refused = _has_nul(request)
        except MultiPartParserError:
            return error_response(
                request, 400, _("The request body could not be read: it is not valid form data.")
            )
        if refused:
            return error_response(
                request,
                400,
                _(
                    "The request contains a NUL character (\\0), which no field accepts. "
                    "Please remove it and send again."
                ),
            )
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(_MACHINE_PREFIXES)
            and not getattr(response, "streaming", False)
            and not _machine_readable(response)
        ):
            replaced = error_response(
                request, response.status_code, status_message(response.status_code)
            )
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replaced[header] = response[header]
            response = replaced
        return response
