"""Answers while PostgreSQL or Redis is unreachable: a 503 with Retry-After, never a 500.

`core.errors.server_error` (Django's handler500) asks `outage_response` first: when the error
being handled is a lost database or Redis connection, machine clients get `503` in their form
(JSON under /api/, Open311's error document under /open311/) with `Retry-After`, and residents a
page saying to try again -- after a form POST, with what they typed in a form that sends it
again (same fields, same Idempotency-Key: a retry never creates a second report).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_MACHINE_PREFIXES = ("/api/", "/open311/")
# Fields never sent back into a page (secrets, and the CSRF token is rendered fresh).
_NOT_ECHOED = {"csrfmiddlewaretoken", "password", "api_key", "website"}


def _outage_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        import redis

        types += [redis.ConnectionError, redis.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        from kombu.exceptions import OperationalError as KombuOperationalError

        types.append(KombuOperationalError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from psycopg_pool import PoolTimeout

        types.append(PoolTimeout)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


OUTAGE_ERRORS = _outage_types()


def is_outage(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def outage_message() -> str:
    return _(
        "civicmap is unavailable for a moment (a database or service is being restarted). "
        "Please try again in a minute."
    )


def outage_response(request: HttpRequest) -> HttpResponse | None:
    """The 503 answer if the exception being handled is an outage, else None."""
    exc = sys.exc_info()[1]
    if not is_outage(exc):
        return None
    logger.warning("%s %s answered 503: %s", request.method, request.path, exc)
    if request.path.startswith(_MACHINE_PREFIXES):
        from core.errors import error_response

        response = error_response(request, 503, outage_message())
    else:
        fields = []
        if request.method == "POST":
            try:
                fields = [
                    (key, value)
                    for key, values in request.POST.lists()
                    if key not in _NOT_ECHOED
                    for value in values
                ]
            except Exception:  # noqa: BLE001 - an unreadable body: nothing to keep
                fields = []
        context = {
            "message": outage_message(),
            "fields": fields,
            "action": request.get_full_path(),
            "had_files": request.method == "POST" and bool(getattr(request, "_files", None)),
        }
        try:
            html = render_to_string("outage.html", context, request)
        except Exception:  # noqa: BLE001 - an error page must never fail itself
            html = outage_message()
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
