"""Login throttling (django-axes) wired into civicmap: who is checked and what a locked-out
client is told.

Every login surface (the login page, the dispatchers' sign-in, the admin, the crew token API)
and the old password of a password change go through `django.contrib.auth.authenticate`, so
one backend guards them all. A lock is per
user name and per client address (`AXES_LOCKOUT_PARAMETERS`); staff unlock in the admin
(Axes › access attempts) or with `manage.py axes_reset_username`.
"""

import math
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check for every login that comes with a request.

    A call without a request is not a login over HTTP (a shell, a management command, the
    test client's `login()`), so there is nothing to throttle and the next backend decides.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_until(request: HttpRequest | None = None) -> tuple[timezone.datetime, int]:
    """When the lock ends and in how many minutes. Every refused attempt (the one being
    answered too) restarts the cool-off, so it ends one cool-off after now."""
    cool_off = get_cool_off(request) or timedelta(minutes=15)
    until = timezone.localtime(timezone.now() + cool_off)
    return until, max(1, math.ceil(cool_off.total_seconds() / 60))


def lockout_message(request: HttpRequest | None = None) -> str:
    until, minutes = lockout_until(request)
    return _(
        "Too many failed login attempts. Logging in with this user name or from this address "
        "is locked until %(time)s (in %(minutes)s minutes). Please try again then, or ask an "
        "administrator to unlock your account."
    ) % {"time": time_format(until, "H:i"), "minutes": minutes}


def lockout_response(request: HttpRequest, *args) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page for browsers, a JSON 429 under /api/."""
    until, minutes = lockout_until(request)
    message = lockout_message(request)
    retry_after = str(minutes * 60)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "locked_until": until.isoformat(), "code": "login_locked"},
            status=429,
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = retry_after
    return response


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` a form or link sent, if it stays on this site; otherwise `fallback`.

    Django's own check: refuses other hosts, other schemes, `//host`, `/\\host` and the like.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def login_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """AXES_USERNAME_CALLABLE: the user name tried, cut to what a user name can be (150), so
    an overlong one is recorded instead of failing the attempt's log (a 500)."""
    source = credentials if credentials else getattr(request, "POST", {})
    return str(source.get("username", "") or "")[:150]


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the old password checked like a login: a session that
    guesses it is counted and locked out by the same rule (`user_login_failed`, axes)."""

    required_css_class = "required"  # as the admin's form marks its fields

    def __init__(self, user, *args, request: HttpRequest | None = None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(
            self.request, username=self.user.get_username(), password=old_password
        )
        if checked is None or checked.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password
