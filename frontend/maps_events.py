"""Folium pieces for events: a layer any map can add, and the small maps of the event pages.

Markers are Leaflet div-icons with inline style, so the layer needs no plugin, no image and no
stylesheet beyond what `frontend.maps.base_map` already serves locally.
"""

from collections.abc import Iterable
from datetime import timedelta

import folium
from branca.element import MacroElement
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from jinja2 import Template

from events.models import Event
from frontend.maps import STATUS_COLOURS, MapParts, base_map, map_parts

EVENT_COLOUR = "#0f766e"
CANCELLED_COLOUR = "#6b7280"


def event_when(event: Event) -> str:
    start = timezone.localtime(event.start)
    if event.all_day:
        # DTEND of an all-day event is the day after its last day.
        last_day = timezone.localtime(event.end).date() - timedelta(days=1)
        if last_day <= start.date():
            return date_format(start, "DATE_FORMAT")
        return f"{date_format(start, 'DATE_FORMAT')} – {date_format(last_day, 'DATE_FORMAT')}"
    end = timezone.localtime(event.end)
    if end.date() == start.date():
        return f"{date_format(start, 'DATETIME_FORMAT')} – {date_format(end, 'TIME_FORMAT')}"
    return f"{date_format(start, 'DATETIME_FORMAT')} – {date_format(end, 'DATETIME_FORMAT')}"


class HtmlPopup(MacroElement):
    """A popup bound by Leaflet itself: folium.Popup needs jQuery, which no page here loads.
    `tojson` escapes <, > and & so the HTML cannot break out of the script."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {maxWidth: 300});"
        "{% endmacro %}"
    )

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "HtmlPopup"
        self.html = str(html)


def _event_icon(event: Event) -> folium.DivIcon:
    colour = CANCELLED_COLOUR if event.is_cancelled else EVENT_COLOUR
    html = (
        f'<div style="width:18px;height:18px;background:{colour};border:2px solid #fff;'
        'transform:rotate(45deg);box-shadow:0 0 0 1px #0f172a;"></div>'
    )
    return folium.DivIcon(html=html, icon_size=(22, 22), icon_anchor=(11, 11), class_name="")


def _event_popup(event: Event) -> str:
    return format_html(
        '<strong><a href="{}">{}</a></strong><br>{}<br>{}{}',
        reverse("frontend:event-detail", args=[event.pk]),
        event.title,
        event_when(event),
        event.venue_name,
        format_html("<br><em>{}</em>", _("cancelled")) if event.is_cancelled else "",
    )


def events_layer(
    events: Iterable[Event], *, name: str | None = None, show: bool = True
) -> folium.FeatureGroup:
    """One feature group of event markers (events without a location are left out)."""
    group = folium.FeatureGroup(name=name or _("Events"), show=show)
    for event in events:
        if event.location is None:
            continue
        # The title names the marker (a button for screen readers: it opens the popup).
        marker = folium.Marker(
            location=[event.location.y, event.location.x],
            icon=_event_icon(event),
            tooltip=event.title,
            title=event.title,
            alt=event.title,
        ).add_to(group)
        HtmlPopup(_event_popup(event)).add_to(marker)
    return group


def reports_layer(reports: Iterable, *, name: str | None = None) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name or _("Open reports"))
    for report in reports:
        marker = folium.CircleMarker(
            location=[report.location.y, report.location.x],
            radius=8,
            color=STATUS_COLOURS.get(report.status, "#111827"),
            fill=True,
            fill_opacity=0.8,
            tooltip=f"#{report.pk} {report.category.name} ({report.get_status_display()})",
        ).add_to(group)
        link = format_html(
            '<a href="{}">#{} {}</a>',
            reverse("frontend:report-detail", args=[report.pk]),
            report.pk,
            report.category.name,
        )
        HtmlPopup(link).add_to(marker)
    return group


def events_map(
    *, events: Iterable[Event], reports: Iterable = (), height: str = "40vh"
) -> MapParts:
    """A small map of events, with open reports beside them; zoomed to what it shows."""
    events = [e for e in events if e.location is not None]
    reports = list(reports)
    fmap = base_map(height=height)
    events_layer(events).add_to(fmap)
    if reports:
        reports_layer(reports).add_to(fmap)
    points = [(e.location.y, e.location.x) for e in events]
    points += [(r.location.y, r.location.x) for r in reports]
    if len(points) == 1:
        fmap.location = list(points[0])
        fmap.options["zoom"] = 16
    elif points:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=16)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return map_parts(fmap)
