"""Abuse limits of report submission, for both faces (the API and the form without JavaScript):
submissions per IP and per e-mail address, public flags per IP (rates in settings, read on every
request), a clear 429, and the honeypot field."""

import hashlib
import math

from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException

from core.throttles import Open311IPThrottle, _SettingsRateThrottle

HONEYPOT_FIELD = "website"


class SubmitIPThrottle(Open311IPThrottle):
    """Report submissions per client address."""

    scope = "report_submit_ip"
    rate_setting = "REPORT_SUBMIT_RATE_PER_IP"
    what = "ip"


class SubmitEmailThrottle(_SettingsRateThrottle):
    """Report submissions per e-mail address (case-insensitive), from any address."""

    scope = "report_submit_email"
    rate_setting = "REPORT_SUBMIT_RATE_PER_EMAIL"
    what = "email"

    def get_cache_key(self, request, view) -> str | None:
        data = getattr(request, "data", None) or request.POST  # DRF request or the plain form
        email = str(data.get("email", "") or "").strip().lower()
        if not email:
            return None
        ident = hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FlagIPThrottle(Open311IPThrottle):
    """Public "inappropriate" flags per client address."""

    scope = "report_flag_ip"
    rate_setting = "REPORT_FLAG_RATE_PER_IP"
    what = "flag"


class TooManyRequests(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"


def too_many(throttle, wait: float | None) -> TooManyRequests:
    """A 429 that says which limit was hit and when to try again (Retry-After is set too)."""
    minutes = max(1, math.ceil((wait or 60) / 60))
    messages = {
        "ip": _(
            "Too many reports from your network in a short time. "
            "Please try again in %(minutes)s minute(s)."
        ),
        "email": _(
            "Too many reports from this e-mail address in a short time. "
            "Please try again in %(minutes)s minute(s)."
        ),
        "flag": _(
            "Too many reports flagged from your network in a short time. "
            "Please try again in %(minutes)s minute(s)."
        ),
    }
    detail = messages.get(getattr(throttle, "what", ""), messages["ip"]) % {"minutes": minutes}
    error = TooManyRequests(detail)
    error.wait = math.ceil(wait) if wait else None
    return error


def check_throttles(request, view, throttles) -> None:
    """Like DRF's check_throttles, but with our message; raises TooManyRequests."""
    for throttle in throttles:
        if not throttle.allow_request(request, view):
            raise too_many(throttle, throttle.wait())


def honeypot_filled(data) -> bool:
    """True when the invisible `website` field came back filled: a bot, not a resident."""
    return bool(str(data.get(HONEYPOT_FIELD, "") or "").strip())
