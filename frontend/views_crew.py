"""Crew tablet pages: the queue, one ticket with its actions, the day plan, the service worker.

The pages work as plain forms; `static/frontend/crew/crew.js` adds the offline outbox, which
sends the same actions to the crew API (`/api/v1/crew/...`) when the network is back.
"""

import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from core.idempotency import idempotency_for
from crews import actions
from crews.day_plans import day_plan_request, day_plan_rows
from crews.queue import crew_queue, crew_ticket_get, duplicate_candidates, member_crews
from reports.idempotency import IdempotencyKeyReused
from reports.models import Report
from reports.selectors import category_list
from reports.services import ReportChangedMeanwhile

SW_VERSION = "crew-v1"


def crew_member_required(view):
    """Logged in and in at least one active crew; anyone else gets a 403 page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not member_crews(user=request.user).exists():
            raise PermissionDenied(_("This page is for crew members."))
        return view(request, *args, **kwargs)

    return wrapped


def _duration(seconds: int) -> str:
    minutes = seconds // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    return _("%(m)s min") % {"m": mins}


def deadline_text(seconds: int) -> str:
    """'due in 2 d 3 h' or '5 h 10 min late'."""
    if seconds >= 0:
        return _("due in %(time)s") % {"time": _duration(seconds)}
    return _("%(time)s late") % {"time": _duration(-seconds)}


def _base_context() -> dict:
    return {
        "data_attribution": settings.DATA_ATTRIBUTION,
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "map_center": settings.MAP_CENTER,
    }


def _position(request: HttpRequest) -> Point | None:
    try:
        lat, lon = float(request.GET["lat"]), float(request.GET["lon"])
    except (KeyError, ValueError):
        return None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return Point(lon, lat, srid=4326)
    return None


def _depots(user) -> list[dict]:
    return [
        {"name": crew.name, "lat": crew.depot.y, "lon": crew.depot.x}
        for crew in member_crews(user=user)
        if crew.depot is not None
    ]


@never_cache
@crew_member_required
def queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    chosen = {name: request.GET.get(name, "") for name in ("crew", "category", "status")}
    rows = list(
        crew_queue(
            user=request.user,
            now=now,
            crew=chosen["crew"] or None,
            category=chosen["category"] or None,
            status=chosen["status"] or None,
            position=_position(request),
        )
    )
    for row in rows:
        row.deadline_text = deadline_text(int((row.due_at - now).total_seconds()))
    markers = [
        {
            "id": row.report_id,
            "lat": row.report.location.y,
            "lon": row.report.location.x,
            "label": f"#{row.report_id} {row.report.category.name}",
            "late": row.is_late,
            "url": reverse("frontend:crew:ticket", args=[row.report_id]),
        }
        for row in rows
    ]
    return render(
        request,
        "frontend/crew/queue.html",
        {
            **_base_context(),
            "rows": rows,
            "markers": markers,
            "depots": _depots(request.user),
            "crews": member_crews(user=request.user),
            "categories": category_list(),
            "statuses": [(s.value, s.label) for s in Report.OPEN_STATUSES],
            "chosen": chosen,
            "filtered": any(chosen.values()),
        },
    )


def _ticket_context(request: HttpRequest, report: Report) -> dict:
    return {
        **_base_context(),
        "report": report,
        "crew": report.active_assignments[0].crew if report.active_assignments else None,
        "before_photos": [p for p in report.all_photos if p.kind == "before"],
        "after_photos": [p for p in report.all_photos if p.kind == "after"],
        "candidates": list(duplicate_candidates(report=report)[:20]) if report.is_open else [],
        "reasons": list(actions.REJECT_REASONS.items()),
        "idempotency_key": uuid.uuid4().hex,
        "can_start": actions.ticket_can_start(report=report),
        # The ticket's map is drawn from these (kept with the page for offline use).
        "ticket_marker": {
            "id": report.pk,
            "lat": report.location.y,
            "lon": report.location.x,
            "label": f"#{report.pk} {report.category.name}",
        },
        "depots": _depots(request.user),
    }


@never_cache
@crew_member_required
def ticket(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        return _ticket_post(request, pk)
    report = crew_ticket_get(user=request.user, report_id=pk)
    if report is None:
        raise Http404(_("No such ticket in your queue."))
    return render(request, "frontend/crew/ticket.html", _ticket_context(request, report))


def _ticket_post(request: HttpRequest, pk: int) -> HttpResponse:
    report = Report.objects.filter(pk=pk).first()
    if report is None:
        raise Http404
    action = request.POST.get("action", "")
    try:
        expected_version = int(request.POST.get("expected_version", ""))
    except ValueError:
        expected_version = None
    duplicate_of = None
    if request.POST.get("duplicate_of", "").isdigit():
        duplicate_of = Report.objects.filter(pk=int(request.POST["duplicate_of"])).first()
    status, error = 200, ""
    try:
        common = {
            "user": request.user,
            "report": report,
            "expected_version": expected_version,
            "note": request.POST.get("note", ""),
            # A resend replays the first answer; the same key with another body is refused.
            **idempotency_for(request, request.POST.get("idempotency_key")),
        }
        if action == actions.START:
            result = actions.ticket_start(**common)
        elif action == actions.CLOSE:
            result = actions.ticket_close(**common, photo=request.FILES.get("photo"))
        elif action == actions.REJECT:
            result = actions.ticket_reject(**common, reason=request.POST.get("reason", ""))
        elif action == actions.DUPLICATE:
            result = actions.ticket_mark_duplicate(**common, duplicate_of=duplicate_of)
        else:
            raise ValidationError(actions.UNKNOWN_ACTION.format(action=action))
    except ReportChangedMeanwhile as exc:
        status = 409
        error = _(
            "This ticket was changed meanwhile. It is now '%(status)s'. "
            "Please look at its current state below and try again if still needed."
        ) % {"status": exc.report.get_status_display()}
    except ValidationError as exc:
        status, error = 400, " ".join(exc.messages)
    except IdempotencyKeyReused as exc:
        status, error = 422, _(str(exc))
    else:
        messages.success(
            request,
            _("Done: ticket #%(id)s is now '%(status)s'.")
            % {"id": result.report.pk, "status": result.report.get_status_display()},
        )
        return redirect("frontend:crew:ticket", pk=pk)
    current = crew_ticket_get(user=request.user, report_id=pk)
    if current is None:
        raise Http404
    context = _ticket_context(request, current)
    context["error"] = error
    return render(request, "frontend/crew/ticket.html", context, status=status)


@never_cache
@crew_member_required
def plan(request: HttpRequest) -> HttpResponse:
    """The day plan is computed by a worker (crews.planning): this page shows the current one,
    or the progress of the one being made (and looks again every two seconds)."""
    crews = member_crews(user=request.user).exclude(depot__isnull=True)
    crew = crews.filter(code=request.GET.get("crew", "")).first() or crews.first()
    context = {**_base_context(), "crews": crews, "crew": crew, "plan": None, "stops": []}
    context.update({"line": [], "markers": [], "depots": _depots(request.user)})
    if crew is None:
        return render(request, "frontend/crew/plan.html", context)
    day_plan = day_plan_request(crew=crew, user=request.user, replan="at" in request.GET)
    context.update(
        {
            "day_plan": day_plan,
            "max_tickets": settings.CREW_PLAN_MAX_TICKETS,
            "planned_at": day_plan.finished_at or day_plan.created_at,
        }
    )
    if day_plan.status != day_plan.Status.DONE:
        return render(request, "frontend/crew/plan.html", context)
    result = day_plan.result
    rows = day_plan_rows(plan=day_plan)
    stops = [
        {
            "stop": {
                **stop,
                "arrival": parse_datetime(stop["arrival"]),
            },
            "row": rows[stop["id"]],
        }
        for stop in result["stops"]
        if stop["id"] in rows
    ]
    depot = result["depot"]
    line = [depot, *([s["lat"], s["lon"]] for s in result["stops"]), depot]
    context.update(
        {
            "plan": {
                "back_at": parse_datetime(result["back_at"]) if result["back_at"] else None,
                "late_count": result["late_count"],
            },
            "km": f"{result['total_metres'] / 1000:.1f}",
            "stops": stops,
            "line": line,
            "left_out": max(0, day_plan.open_count - len(result["stops"])),
            "markers": [
                {
                    "number": item["stop"]["number"],
                    "lat": item["stop"]["lat"],
                    "lon": item["stop"]["lon"],
                    "late": item["stop"]["late"],
                    "label": f"{item['stop']['number']}. #{item['row'].report_id} "
                    f"{item['row'].report.category.name}",
                    "url": reverse("frontend:crew:ticket", args=[item["row"].report_id]),
                }
                for item in stops
            ],
            "depots": [{"name": _("Depot"), "lat": depot[0], "lon": depot[1]}],
        }
    )
    return render(request, "frontend/crew/plan.html", context)


def service_worker(request: HttpRequest) -> HttpResponse:
    """Served under /crew/ so that its scope covers the crew pages."""
    precache = [
        static("frontend/site.css"),
        static("frontend/crew/crew.css"),
        static("frontend/crew/crew.js"),
        static("frontend/crew/crew-map.js"),
        static("leaflet/leaflet.js"),
        static("leaflet/leaflet.css"),
    ]
    response = render(
        request,
        "frontend/crew/sw.js",
        {"version": SW_VERSION, "precache": precache, "queue_url": reverse("frontend:crew:queue")},
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = reverse("frontend:crew:queue")
    return response
