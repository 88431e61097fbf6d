"""Dispatcher pages: the live map (with a server-sent-events stream) and what every dispatcher
page shares. One ticket is in views_dispatch_ticket.py, statistics and hotspots in
views_dispatch_stats.py. Only members of the dispatchers group and superusers get in."""

import json
import logging
from functools import wraps

import folium
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import LoginView, redirect_to_login
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crews.selectors import (
    crews_geojson,
    is_dispatcher,
    open_ticket_feature,
    open_tickets_geojson,
)
from districts.selectors import districts_geojson
from frontend.maps import base_map, districts_layer, map_parts, tile_url_template, vector_tiles
from reports.live import channel_name
from reports.models import ReportFlag

logger = logging.getLogger(__name__)

STATE_COLOURS = {
    "unassigned": "#7c3aed",
    "late": "#b91c1c",
    "due_soon": "#d97706",
    "on_time": "#15803d",
    # A rejected ticket still flagged for the dispatcher (a crew answered "not found").
    "closed": "#4b5563",
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
        "closed": _("Closed"),
    }


def _attention_labels() -> dict[str, str]:
    """The live map's "needs attention" filter: new tickets and every kind of flag."""
    return {
        "new": _("New ticket"),
        **{kind.value: str(kind.label) for kind in ReportFlag.Kind},
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
        name = _("Depot: %(crew)s") % {"crew": feature["properties"]["name"]}
        # Not a control: no keyboard stop, and the title names it for screen readers.
        folium.Marker(
            location=[lat, lon],
            tooltip=name,
            icon=folium.DivIcon(html='<div class="depot-icon" aria-hidden="true">⌂</div>'),
            title=name,
            keyboard=False,
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
                "attention": _attention_labels(),
                "text": {
                    "new": _("new"),
                    "attentionMarker": _("needs attention"),
                    "noneAttention": _("Nothing needs attention."),
                },
            },
            labels=_state_labels(),
            colours=STATE_COLOURS,
            attention_labels=_attention_labels(),
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
