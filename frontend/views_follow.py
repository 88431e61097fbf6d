"""A public report's "I see it too" and "tell me when it changes" (double opt-in, one-click
unsubscribe). The rules live in `reports.subscriptions`; this module translates HTTP."""

import secrets
import time

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reports.selectors import report_list
from reports.services import reporter_language
from reports.subscriptions import (
    report_confirm_once,
    subscription_cancel,
    subscription_confirm,
    subscription_request,
)

BROWSER_COOKIE = "civicmap_seen"
BROWSER_COOKIE_AGE = 365 * 24 * 3600
# Per network address and hour, over all reports: "I see it too" and follow requests.
FOLLOW_RATE_PER_HOUR = 30


def _allowed(request: HttpRequest, what: str) -> bool:
    key = f"follow_{what}_{request.META.get('REMOTE_ADDR', '')}"
    now = time.time()
    history = [t for t in cache.get(key, []) if t > now - 3600]
    if len(history) >= FOLLOW_RATE_PER_HOUR:
        return False
    cache.set(key, [*history, now], 3600)
    return True


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("frontend:report-detail", args=[pk]) + "#follow")


@require_POST
def report_seen(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(report_list(), pk=pk)
    browser = request.COOKIES.get(BROWSER_COOKIE) or secrets.token_urlsafe(16)
    if not _allowed(request, "seen"):
        messages.error(request, _("Too many confirmations from your network; try again later."))
        return _back(pk)
    try:
        counted = report_confirm_once(
            report=report, browser=browser, address=request.META.get("REMOTE_ADDR", "")
        )[1]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if counted:
            messages.success(request, _("Thank you: the city knows that you see it too."))
        else:
            messages.info(request, _("You have already said that you see it too."))
    response = _back(pk)
    response.set_cookie(
        BROWSER_COOKIE, browser, max_age=BROWSER_COOKIE_AGE, httponly=True, samesite="Lax"
    )
    return response


@require_POST
def report_follow(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(report_list(), pk=pk)
    if not _allowed(request, "follow"):
        messages.error(request, _("Too many requests from your network; try again later."))
        return _back(pk)
    try:
        subscription_request(
            report=report, email=request.POST.get("email", ""), language=reporter_language()
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Please check your inbox: confirm the link we sent, then we write when it changes."),
        )
    return _back(pk)


def _done(request: HttpRequest, *, title: str, text: str, report_id: int | None) -> HttpResponse:
    response = render(
        request,
        "frontend/follow_done.html",
        {"title": title, "text": text, "report_id": report_id, "language": get_language()},
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def follow_confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscription = subscription_confirm(token=token)
    if subscription is None:
        return _done(
            request,
            title=_("Link not valid"),
            text=_("This link is not valid (any more)."),
            report_id=None,
        )
    if not subscription.active:
        return _done(
            request,
            title=_("Mails stopped"),
            text=_("You stopped these mails. Ask again on the report's page to get them."),
            report_id=subscription.report_id,
        )
    return _done(
        request,
        title=_("Address confirmed"),
        text=_("We will write to you when this report changes."),
        report_id=subscription.report_id,
    )


@csrf_exempt  # RFC 8058 one-click: the mail program POSTs without a form of ours
def follow_stop(request: HttpRequest, token: str) -> HttpResponse:
    subscription = subscription_cancel(token=token)
    if subscription is None:
        return _done(
            request,
            title=_("Link not valid"),
            text=_("This link is not valid (any more)."),
            report_id=None,
        )
    return _done(
        request,
        title=_("Mails stopped"),
        text=_("You will get no more mails about this report."),
        report_id=subscription.report_id,
    )
