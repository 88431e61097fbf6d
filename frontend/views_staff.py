"""Staff pages for privacy and trust: the moderation queue, the blur-box editor on a photo's
private original, and the export of one person's data. Staff users and dispatchers only."""

import json
import logging
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crews.selectors import is_dispatcher
from frontend.auth import safe_next
from reports.models import Report, ReportPhoto
from reports.photos import encode_jpeg, open_upright
from reports.selectors import moderation_queue, personal_data_export
from reports.services import photo_blur_boxes_set, photo_moderate, report_moderate

logger = logging.getLogger(__name__)

# The editor shows the original at most this size (boxes are fractions, so any size works).
EDITOR_MAX_PX = 1600


def is_staff_member(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff) or (
        is_dispatcher(user)
    )


def staff_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not is_staff_member(request.user):
            return HttpResponseForbidden(_("Only city staff may open this page."))
        response = view(request, *args, **kwargs)
        # Personal data and unredacted photos: never in a shared cache.
        response["Cache-Control"] = "no-store, private"
        return response

    return wrapper


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@staff_required
def moderation(request: HttpRequest) -> HttpResponse:
    queue = moderation_queue()
    return render(
        request,
        "frontend/staff/moderation.html",
        {
            "pending": list(queue["pending"][:200]),
            "flagged": list(queue["flagged"][:200]),
            "review_photos": list(queue["photos"][:200]),
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )


@staff_required
def report_review(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report.objects.select_related("category", "district"), pk=pk)
    return render(
        request,
        "frontend/staff/report.html",
        {
            "report": report,
            "photos": list(report.photos.all()),
            "flags": list(report.flags.filter(resolved_at__isnull=True)),
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )


@staff_required
@require_POST
def report_moderate_view(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    action = request.POST.get("action", "")
    try:
        report_moderate(
            report=report, action=action, reason=request.POST.get("reason", ""), actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Saved: #%(id)s.") % {"id": report.pk})
    return redirect(safe_next(request, reverse("frontend:staff:report", args=[pk])))


@staff_required
@require_POST
def photo_moderate_view(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(ReportPhoto, pk=pk)
    hide = request.POST.get("action") == "hide"
    try:
        photo_moderate(
            photo=photo, hide=hide, reason=request.POST.get("reason", ""), actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Photo hidden.") if hide else _("Photo shown again."))
    return redirect("frontend:staff:report", pk=photo.report_id)


@staff_required
def photo_editor(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(ReportPhoto.objects.select_related("report__category"), pk=pk)
    if request.method == "POST":
        try:
            boxes = json.loads(request.POST.get("boxes", "[]"))
            if not isinstance(boxes, list):
                raise ValueError
        except ValueError:
            messages.error(request, _("The boxes could not be read; nothing was changed."))
            return redirect("frontend:staff:photo", pk=pk)
        try:
            photo_blur_boxes_set(photo=photo, boxes=boxes, actor=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(
                request,
                _("Saved %(n)s blur box(es); the public copies are being rendered again.")
                % {"n": len(photo.blur_boxes)},
            )
        return redirect("frontend:staff:photo", pk=pk)
    return render(
        request,
        "frontend/staff/photo.html",
        {
            "photo": photo,
            "report": photo.report,
            "boxes": photo.blur_boxes,
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )


@staff_required
def photo_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The private original, upright and without metadata, for the editor (staff only)."""
    photo = get_object_or_404(ReportPhoto, pk=pk)
    if not photo.original:
        return HttpResponse(_("The original was deleted."), status=404)
    with photo.original.open("rb") as handle:
        data = handle.read()
    return HttpResponse(encode_jpeg(open_upright(data, EDITOR_MAX_PX)), content_type="image/jpeg")


@staff_required
def personal_data(request: HttpRequest) -> HttpResponse:
    email = request.GET.get("email", "").strip()
    export = personal_data_export(email=email) if email else None
    if export is not None:
        logger.info("personal data export for one address by %s", request.user.get_username())
    if export is not None and request.GET.get("format") == "json":
        response = JsonResponse(export, json_dumps_params={"ensure_ascii": False, "indent": 2})
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.json"'
        return response
    return render(
        request,
        "frontend/staff/personal_data.html",
        {"email": email, "export": export, "data_attribution": settings.DATA_ATTRIBUTION},
    )
