"""Resident-facing privacy pages: delete my contact data (with the tracking link), and flag a
public report as inappropriate (rate-limited per address)."""

import logging

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.throttling import SimpleRateThrottle

from reports.selectors import report_by_token, report_list
from reports.services import report_contact_delete, report_public_flag

logger = logging.getLogger(__name__)


def contact_delete(request: HttpRequest, token: str) -> HttpResponse:
    report = report_by_token(token=token)
    if report is None:
        raise Http404
    if request.method == "POST":
        report_contact_delete(report=report, why="resident")
        messages.success(
            request, _("Your e-mail address, name and phone number were deleted from this report.")
        )
        return redirect("frontend:privacy:contact-delete", token=token)
    has_contact = bool(report.reporter_email or report.reporter_name or report.reporter_phone)
    response = render(
        request,
        "frontend/staff/contact_delete.html",
        {
            "report": report,
            "token": token,
            "has_contact": has_contact,
            "retention_days": settings.RETENTION_DAYS,
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _flag_allowed(request: HttpRequest) -> bool:
    """REPORT_FLAG_RATE_PER_IP flags per client address (the same counter as the API's)."""
    rate = settings.REPORT_FLAG_RATE_PER_IP
    if not rate:
        return True
    number, seconds = SimpleRateThrottle.parse_rate(None, rate)
    key = f"throttle_report_flag_ip_{request.META.get('REMOTE_ADDR', '')}"
    history = [t for t in cache.get(key, []) if t > _now() - seconds]
    if len(history) >= number:
        return False
    cache.set(key, [*history, _now()], seconds)
    return True


def _now() -> float:
    import time

    return time.time()


@require_POST
def report_flag(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(report_list(), pk=pk)
    if not _flag_allowed(request):
        response = render(
            request,
            "frontend/staff/flag_done.html",
            {
                "report": report,
                "message": _(
                    "Too many reports flagged from your network in a short time. "
                    "Please try again later."
                ),
                "data_attribution": settings.DATA_ATTRIBUTION,
            },
            status=429,
        )
        return response
    report_public_flag(report=report, note=request.POST.get("reason", ""))
    return render(
        request,
        "frontend/staff/flag_done.html",
        {
            "report": report,
            "message": _("Thank you. The city will look at this report."),
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )
