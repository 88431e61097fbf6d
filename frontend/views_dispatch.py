"""Dispatcher pages: live map (with a server-sent-events stream), ticket actions, statistics,
hotspots. Only members of the dispatchers group and superusers get in."""

import json
import logging
from datetime import date, datetime, timedelta
from functools import wraps

import folium
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView, redirect_to_login
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crews import dispatch
from crews.hotspots import hotspot_crew, hotspots_find, preventive_task_create
from crews.models import Crew
from crews.selectors import (
    assignment_active,
    assignment_history,
    crew_list,
    crews_geojson,
    crews_serving,
    deadline_state,
    is_dispatcher,
    open_ticket_feature,
    open_tickets_geojson,
)
from crews.stats import StatsFilter, stats_by_district, stats_summary, stats_weekly
from districts.selectors import district_list, districts_geojson
from frontend.maps import base_map, districts_layer, map_parts, tile_url_template, vector_tiles
from reports.live import channel_name
from reports.models import Report
from reports.selectors import category_list
from reports.services import ReportChangedMeanwhile, category_by_code

logger = logging.getLogger(__name__)

STATE_COLOURS = {
    "unassigned": "#7c3aed",
    "late": "#b91c1c",
    "due_soon": "#d97706",
    "on_time": "#15803d",
}
KEEPALIVE_SECONDS = 15
# Without the push channel the map polls. A change must show within 15 s; polling every 15 s
# would miss that by the length of a request whenever the change lands just after a poll, so
# the map polls every 12 s.
POLL_SECONDS = 12


def _state_labels() -> dict[str, str]:
    return {
        "unassigned": _("Unassigned"),
        "late": _("Late"),
        "due_soon": _("Due within 24 h"),
        "on_time": _("On time"),
    }


def dispatcher_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("frontend:dispatch:login"))
        if not is_dispatcher(request.user):
            return HttpResponseForbidden(_("Only dispatchers may open this page."))
        return view(request, *args, **kwargs)

    return wrapper


class DispatchLoginView(LoginView):
    template_name = "frontend/dispatch/login.html"
    redirect_authenticated_user = False

    def get_default_redirect_url(self) -> str:
        return reverse("frontend:dispatch:live")


def _context(**extra) -> dict:
    return {"data_attribution": settings.DATA_ATTRIBUTION, **extra}


# --- live map ----------------------------------------------------------------------------------


def _live_map():
    fmap = base_map(height="100%")
    districts_layer(districts_geojson()).add_to(fmap)
    depots = folium.FeatureGroup(name=_("Crew depots")).add_to(fmap)
    for feature in crews_geojson()["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        folium.Marker(
            location=[lat, lon],
            tooltip=_("Depot: %(crew)s") % {"crew": feature["properties"]["name"]},
            icon=folium.DivIcon(html='<div class="depot-icon" aria-hidden="true">⌂</div>'),
        ).add_to(depots)
    return fmap


@dispatcher_required
def live_map(request):
    fmap = _live_map()
    tickets = open_tickets_geojson(now=timezone.now(), language=get_language() or "de")
    tiles = None
    if len(tickets["features"]) > settings.MAP_VECTOR_TILES_ABOVE:
        # Many tickets: the map draws them from staff-only vector tiles (the lists beside the
        # map still come from the tickets' GeoJSON).
        tiles = vector_tiles(
            url=tile_url_template(reverse("api:dispatch:tiles", args=[0, 0, 0])),
            name=_("Open tickets"),
            layer="tickets",
            colour_of="state",
            colours=STATE_COLOURS,
            class_name="ticket-tile-point",
        ).add_to(fmap)
        folium.LayerControl(collapsed=False).add_to(fmap)
    return render(
        request,
        "frontend/dispatch/live.html",
        _context(
            nav="live",
            map=map_parts(fmap),
            map_name=fmap.get_name(),
            tickets=tickets,
            config={
                "ticketsUrl": reverse("api:dispatch:tickets"),
                "streamUrl": reverse("frontend:dispatch:stream"),
                "ticketUrl": reverse("frontend:dispatch:ticket", args=[0]),
                "tiles": tiles.get_name() if tiles else None,
                "pollSeconds": POLL_SECONDS,
                "colours": STATE_COLOURS,
                "labels": _state_labels(),
            },
            labels=_state_labels(),
            colours=STATE_COLOURS,
        ),
    )


async def _with_feature(text: str, language: str) -> str:
    """The change with the ticket's map feature (`null` once it is no longer open), so the map
    can apply it instead of downloading every open ticket again (bench B4: ~0.5 KB per change
    instead of the whole layer)."""
    try:
        change = json.loads(text)
        report_id = int(change["id"])
    except (ValueError, KeyError, TypeError):
        return text
    try:
        change["feature"] = await sync_to_async(open_ticket_feature)(
            report_id=report_id, now=timezone.now(), language=language
        )
    except DatabaseError as exc:  # without "feature" the map reloads the layer instead
        logger.warning("live update for report %s sent without its feature: %s", report_id, exc)
    return json.dumps(change, separators=(",", ":"), ensure_ascii=False)


async def live_stream(request):
    """Server-sent events: one `data:` line per report change, from Redis pub/sub.

    Runs under ASGI (uvicorn): the async iterator keeps one connection per open map without a
    thread each. A comment line every 15 s keeps proxies from closing an idle stream."""
    user = await request.auser()
    if not await sync_to_async(is_dispatcher)(user):
        return HttpResponseForbidden(_("Only dispatchers may open this page."))
    client = aioredis.Redis.from_url(settings.LIVE_REDIS_URL, socket_connect_timeout=2)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel_name())
    except (aioredis.RedisError, OSError) as exc:
        logger.warning("live stream unavailable: %s", exc)
        await client.aclose()
        return HttpResponse(status=503)

    language = get_language() or "de"

    async def events():
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
                )
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else data
                yield f"data: {await _with_feature(text, language)}\n\n"
        finally:
            await pubsub.aclose()
            await client.aclose()

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


# --- one ticket ----------------------------------------------------------------------------------


def _reassign_suggestion(report: Report, current: Crew | None) -> Crew | None:
    return next((c for c in crews_serving(report=report) if current is None or c != current), None)


@dispatcher_required
def ticket(request, pk: int):
    report = get_object_or_404(
        Report.objects.select_related("category", "district", "duplicate_of"), pk=pk
    )
    active = assignment_active(report=report)
    now = timezone.now()
    return render(
        request,
        "frontend/dispatch/ticket.html",
        _context(
            report=report,
            active=active,
            state=deadline_state(due_at=report.due_at, assigned=active is not None, now=now)
            if report.is_open
            else None,
            labels=_state_labels(),
            colours=STATE_COLOURS,
            history=assignment_history(report=report),
            events=report.events.select_related("actor").order_by("created_at", "id"),
            photos=report.photos.all(),
            crews=crews_serving(report=report),
            suggested=_reassign_suggestion(report, active.crew if active else None),
            categories=category_list(),
            priorities=range(dispatch.MAX_PRIORITY + 1),
        ),
    )


def _ticket_action(action):
    @wraps(action)
    @require_POST
    @dispatcher_required
    def wrapper(request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        try:
            message = action(request, report)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except ReportChangedMeanwhile as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, message)
        target = request.POST.get("next") or reverse("frontend:dispatch:ticket", args=[report.pk])
        if not target.startswith("/") or target.startswith("//"):
            target = reverse("frontend:dispatch:ticket", args=[report.pk])
        return redirect(target)

    return wrapper


def _due_at(request) -> datetime | None:
    raw = request.POST.get("due_at", "").strip()
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        raise ValidationError(_("The deadline is not a valid date and time."))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@_ticket_action
def ticket_reassign(request, report: Report) -> str:
    crew = Crew.objects.filter(code=request.POST.get("crew", ""), active=True).first()
    if crew is None:
        raise ValidationError(_("Choose a crew."))
    dispatch.dispatch_reassign(
        report=report, crew=crew, actor=request.user, reason=request.POST.get("reason", "")
    )
    return _("Ticket #%(id)s reassigned to %(crew)s.") % {"id": report.pk, "crew": crew.name}


@_ticket_action
def ticket_category(request, report: Report) -> str:
    category = category_by_code(request.POST.get("category", ""))
    dispatch.dispatch_change_category(
        report=report,
        category=category,
        actor=request.user,
        due_at=_due_at(request),
        reason=request.POST.get("reason", ""),
    )
    return _("Category changed to %(name)s; the ticket was routed again.") % {"name": category.name}


@_ticket_action
def ticket_priority(request, report: Report) -> str:
    try:
        priority = int(request.POST.get("priority", ""))
    except ValueError as exc:
        raise ValidationError(_("Choose a priority.")) from exc
    dispatch.dispatch_set_priority(report=report, priority=priority, actor=request.user)
    return _("Priority set to %(p)s.") % {"p": priority}


@_ticket_action
def ticket_merge(request, report: Report) -> str:
    try:
        keep = Report.objects.get(pk=int(request.POST.get("into", "")))
    except (ValueError, Report.DoesNotExist) as exc:
        raise ValidationError(_("Give the number of an existing ticket to keep.")) from exc
    dispatch.dispatch_merge(
        duplicate=report, keep=keep, actor=request.user, note=request.POST.get("note", "")
    )
    return _("Ticket #%(dup)s merged into #%(keep)s.") % {"dup": report.pk, "keep": keep.pk}


@_ticket_action
def ticket_reopen(request, report: Report) -> str:
    dispatch.dispatch_reopen(
        report=report,
        actor=request.user,
        reason=request.POST.get("reason", ""),
        due_at=_due_at(request),
    )
    return _("Ticket #%(id)s reopened.") % {"id": report.pk}


@_ticket_action
def ticket_release(request, report: Report) -> str:
    dispatch.dispatch_release(
        report=report, actor=request.user, reason=request.POST.get("reason", "")
    )
    return _("Ticket #%(id)s is unassigned now.") % {"id": report.pk}


# --- statistics ----------------------------------------------------------------------------------


def _month_bounds(today: date, months_back: int) -> tuple[date, date]:
    first = today.replace(day=1)
    for _i in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, min(last, today) if months_back == 0 else last


def _period_from(request) -> tuple[StatsFilter, dict]:
    today = timezone.localdate()
    presets = {
        "last_month": _month_bounds(today, 1),
        "this_month": _month_bounds(today, 0),
        "last_30": (today - timedelta(days=29), today),
        "last_365": (today - timedelta(days=364), today),
    }
    preset = request.GET.get("preset", "")
    if preset in presets:
        start, end = presets[preset]
    else:
        try:
            start = date.fromisoformat(request.GET.get("start", ""))
            end = date.fromisoformat(request.GET.get("end", ""))
        except ValueError:
            start, end = presets["last_30"]
    if start > end:
        start, end = end, start
    f = StatsFilter(
        start=start,
        end=end,
        district=request.GET.get("district") or None,
        category=request.GET.get("category") or None,
        crew=request.GET.get("crew") or None,
    )
    query = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        **{
            k: v
            for k, v in (("district", f.district), ("category", f.category), ("crew", f.crew))
            if v
        },
    }
    return f, query


def _late_colour(share: float | None) -> str:
    if share is None:
        return "#e5e7eb"
    for limit, colour in (
        (0.02, "#fee5d9"),
        (0.05, "#fcae91"),
        (0.10, "#fb6a4a"),
        (0.20, "#de2d26"),
    ):
        if share <= limit:
            return colour
    return "#a50f15"


def _choropleth(rows: list[dict]):
    by_code = {row["code"]: row for row in rows}
    geojson = json.loads(districts_geojson())
    for feature in geojson["features"]:
        row = by_code.get(feature["properties"]["code"], {})
        share = row.get("share_late")
        feature["properties"]["label"] = (
            f"{feature['properties']['name']}: "
            + (f"{share:.0%} " + _("late") if share is not None else _("no reports"))
            + f" ({row.get('late', 0)}/{row.get('received', 0)})"
        )
        feature["properties"]["fill"] = _late_colour(share)
    fmap = base_map(height="28rem")
    folium.GeoJson(
        geojson,
        name=_("Share late"),
        style_function=lambda feature: {
            "color": "#334155",
            "weight": 1,
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.7,
        },
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ).add_to(fmap)
    return map_parts(fmap)


def _weekly_bars(weeks: list[dict]) -> dict:
    """Geometry of a small SVG bar chart (received vs. cleared on time per week)."""
    top = max([w["received"] for w in weeks] + [1])
    width, height, gap = 640, 160, 4
    step = width / max(len(weeks), 1)
    bars = []
    for i, week in enumerate(weeks):
        x = i * step
        h_all = height * week["received"] / top
        h_ok = height * week["cleared_on_time"] / top
        bars.append(
            {
                "x": round(x + gap / 2, 1),
                "w": round(max(step - gap, 1), 1),
                "y_all": round(height - h_all, 1),
                "h_all": round(h_all, 1),
                "y_ok": round(height - h_ok, 1),
                "h_ok": round(h_ok, 1),
                "week": week,
            }
        )
    return {"width": width, "height": height, "bars": bars, "top": top}


@dispatcher_required
def stats(request):
    f, query = _period_from(request)
    now = timezone.now()
    districts = stats_by_district(f=f, now=now)
    weekly = stats_weekly(f=f, now=now)
    return render(
        request,
        "frontend/dispatch/stats.html",
        _context(
            nav="stats",
            f=f,
            summary=stats_summary(f=f, now=now),
            districts=[row for row in districts if row["received"]] or districts,
            weekly=weekly,
            chart=_weekly_bars(weekly),
            map=_choropleth(districts),
            district_options=district_list(),
            category_options=category_list(active_only=False),
            crew_options=crew_list(),
            export_query=urlencode(query),
        ),
    )


# --- hotspots ----------------------------------------------------------------------------------


@dispatcher_required
def hotspots(request):
    f, query = _period_from(request)
    try:
        radius = float(request.GET.get("radius", 50))
        min_count = int(request.GET.get("min_count", 3))
    except ValueError:
        radius, min_count = 50.0, 3
    start, end = f.bounds()
    try:
        spots = hotspots_find(
            start=start,
            end=end,
            radius_m=radius,
            min_count=min_count,
            category=f.category,
            district=f.district,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        spots = []
    rows = [{"spot": s, "crew": hotspot_crew(center=s.center, category=s.category)} for s in spots]
    fmap = base_map(height="28rem")
    districts_layer(districts_geojson()).add_to(fmap)
    for row in rows:
        spot = row["spot"]
        # A marker sized by the number of reports: a 50 m circle is a dot at city zoom.
        folium.CircleMarker(
            location=[spot.center.y, spot.center.x],
            radius=min(8 + 2 * spot.count, 40),
            color="#7f1d1d",
            weight=2,
            fill=True,
            fill_color="#b91c1c",
            fill_opacity=0.45,
            tooltip=f"#{spot.rank}: {spot.count} " + _("reports"),
        ).add_to(fmap)
    return render(
        request,
        "frontend/dispatch/hotspots.html",
        _context(
            nav="hotspots",
            f=f,
            radius=radius,
            min_count=min_count,
            rows=rows,
            map=map_parts(fmap),
            district_options=district_list(),
            category_options=category_list(active_only=False),
            crew_options=crew_list(),
            back_query=urlencode({**query, "radius": radius, "min_count": min_count}),
        ),
    )


@require_POST
@dispatcher_required
def preventive_create(request):
    try:
        center = Point(float(request.POST["lon"]), float(request.POST["lat"]), srid=4326)
        crew = Crew.objects.filter(code=request.POST.get("crew", "")).first()
        task = preventive_task_create(
            center=center,
            radius_m=float(request.POST.get("radius_m", 50)),
            category=request.POST.get("category") or None,
            report_count=int(request.POST.get("report_count", 0)),
            actor=request.user,
            crew=crew,
            interval_days=int(request.POST.get("interval_days", 7)),
        )
    except (KeyError, ValueError):
        messages.error(request, _("The hotspot could not be read; please try again."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Preventive round for %(crew)s every %(days)s days, first on %(first)s.")
            % {"crew": task.crew.name, "days": task.interval_days, "first": task.next_due_on},
        )
    back = request.POST.get("back", "")
    return redirect(reverse("frontend:dispatch:hotspots") + (f"?{back}" if back else ""))
