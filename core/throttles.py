"""Limits on Open311 submissions: per API key and per client IP address."""

import hashlib

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from settings on every request (so tests and operators can change it)."""

    rate_setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting, None) or None

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class Open311KeyThrottle(_SettingsRateThrottle):
    """POSTs per API key, whether the key is valid or not (a guessed key is no way round it)."""

    scope = "open311_key"
    rate_setting = "OPEN311_POST_RATE_PER_KEY"
    what = _("API key")

    def get_cache_key(self, request, view) -> str | None:
        key = request.POST.get("api_key") or request.query_params.get("api_key") or ""
        if not key:
            return None
        ident = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class Open311IPThrottle(_SettingsRateThrottle):
    """POSTs per client address. Behind a reverse proxy, set REST_FRAMEWORK NUM_PROXIES so the
    address comes from X-Forwarded-For; otherwise that header is not trusted."""

    scope = "open311_ip"
    rate_setting = "OPEN311_POST_RATE_PER_IP"
    what = _("IP address")

    def get_ident(self, request) -> str:
        if settings.REST_FRAMEWORK.get("NUM_PROXIES") is not None:
            return super().get_ident(request)
        return request.META.get("REMOTE_ADDR", "")

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
