"""Dispatcher statistics (period, district, category, crew; a choropleth of late shares and a
weekly chart) and hotspots (places with repeated reports, turned into preventive rounds)."""

import json
from datetime import date

import folium
from django.contrib import messages
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crews.hotspots import hotspot_crew, hotspots_find, preventive_task_create
from crews.models import Crew
from crews.selectors import crew_list
from crews.stats import (
    DEFAULT_PERIOD,
    PERIOD_PRESETS,
    StatsFilter,
    period_preset,
    stats_by_district,
    stats_summary,
    stats_weekly,
)
from districts.selectors import district_list, districts_geojson
from frontend.maps import base_map, districts_layer, map_parts
from frontend.views_dispatch import _context, dispatcher_required
from reports.selectors import category_list

# --- statistics ----------------------------------------------------------------------------------


def _period_from(request) -> tuple[StatsFilter, dict]:
    today = timezone.localdate()
    preset = request.GET.get("preset", "")
    if preset in PERIOD_PRESETS:
        start, end = period_preset(preset, today=today)
    else:
        try:
            start = date.fromisoformat(request.GET.get("start", ""))
            end = date.fromisoformat(request.GET.get("end", ""))
        except ValueError:
            start, end = period_preset(DEFAULT_PERIOD, today=today)
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
    names = {c.code: c.name for c in category_list(active_only=False)}
    rows = [
        {
            "spot": s,
            "crew": hotspot_crew(center=s.center, category=s.category),
            "category_name": names.get(s.category, ""),
        }
        for s in spots
    ]
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
