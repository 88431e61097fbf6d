"""The public map page and its points (resident side; the dispatcher's map is views_dispatch).

Views only translate HTTP: they call selectors and hand plain values to templates.
"""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.pagination import CountedPaginator
from frontend.maps import STATUS_COLOURS, public_map, tile_url_template
from frontend.views_events import WHEN_CHOICES, event_windows_config
from reports.models import Report
from reports.selectors import (
    PUBLIC_MAP_CLEARED_DAYS,
    category_list,
    reports_public_map,
    reports_public_map_count,
    reports_public_map_rows,
)

LIST_PAGE_SIZE = 50
MAP_POINT_LIMIT = 5000
SHOWN_STATUSES = ("new", "assigned", "in_progress", "cleared")


def page_in_english() -> bool:
    return (get_language() or settings.LANGUAGE_CODE).startswith("en")


def _legend() -> list[dict]:
    labels = dict(Report.Status.choices)
    return [
        {"status": status, "label": labels[status], "colour": STATUS_COLOURS[status]}
        for status in SHOWN_STATUSES
    ]


def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    reports = reports_public_map(now=now).order_by("-created_at", "-id")
    # The total from the kept counts: counting every shown report per page view grows with them.
    total = CountedPaginator(
        reports, LIST_PAGE_SIZE, count=lambda: reports_public_map_count(now=now)
    )
    page = total.get_page(request.GET.get("page"))
    fmap = public_map(
        data_url=reverse("frontend:map-reports"),
        districts_url=reverse("api:map-districts-geojson"),
        # Many points: vector tiles (the public map's selection) instead of GeoJSON markers.
        tiles_url=tile_url_template(reverse("api:tiles-reports", args=[0, 0, 0]) + "?map=public")
        if page.paginator.count > settings.MAP_VECTOR_TILES_ABOVE
        else None,
    )
    fmap.config.update(_events_config())
    if fmap.config["reportsMode"] == "tiles":
        fmap.config.update(_tile_popup_config())
    return render(
        request,
        "frontend/home.html",
        {
            "map": fmap,
            "when_choices": WHEN_CHOICES,
            "page": page,
            "legend": _legend(),
            "cleared_days": PUBLIC_MAP_CLEARED_DAYS,
        },
    )


def _tile_popup_config() -> dict:
    """What a vector-tile point's popup needs (a tile carries only id, category code, status)."""
    english = page_in_english()
    return {
        "reportPage": reverse("frontend:report-detail", args=[0]),
        "statusLabels": {value: str(label) for value, label in Report.Status.choices},
        "categories": {c.code: c.name_en if english else c.name_de for c in category_list()},
    }


def _events_config() -> dict:
    """What the public map's script needs for its events layer."""
    return {
        "eventsApi": reverse("api:event-list"),
        "eventPage": reverse("frontend:event-detail", args=[0]),
        "language": get_language() or settings.LANGUAGE_CODE,
        "timeZone": settings.TIME_ZONE,
        # The filter's windows (events.selectors.event_window), so the script computes none.
        "eventWindows": event_windows_config(today=timezone.localdate()),
        "eventsText": {
            "range": _("date range"),
            "found": _("Events on the map: {count}"),
            "none": _("No events found in this part of the map."),
            "more": _("Only the first {count} events are shown; zoom in or narrow the search."),
            "failed": _("The events could not be loaded onto the map."),
            "details": _("Details of the event"),
            "cancelled": _("cancelled"),
            "event": _("Event: {title}"),
        },
    }


@require_GET
def map_reports(request: HttpRequest) -> JsonResponse:
    """The public map's points as GeoJSON, fetched by the page (so the page's HTML stays small
    however many reports there are). Labels are in the page's language."""
    english = page_in_english()
    statuses = dict(Report.Status.choices)
    rows = reports_public_map_rows(now=timezone.now(), limit=MAP_POINT_LIMIT)
    features = []
    for row in rows:
        location = row["location"]
        due_at = row["due_at"]
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(location.x, 6), round(location.y, 6)],
                },
                "properties": {
                    "id": row["id"],
                    "status": row["status"],
                    "status_label": str(statuses.get(row["status"], row["status"])),
                    "category": row["category__name_en" if english else "category__name_de"],
                    "icon": row["category__icon"],
                    "district": row["district__name"] or "",
                    "due": date_format(timezone.localtime(due_at), "SHORT_DATE_FORMAT")
                    if due_at
                    else "",
                    "thumbnail": default_storage.url(row["thumb"]) if row["thumb"] else None,
                    "url": reverse("frontend:report-detail", args=[row["id"]]),
                },
            }
        )
    response = JsonResponse(
        {
            "type": "FeatureCollection",
            "features": features,
            "truncated": len(rows) >= MAP_POINT_LIMIT,
        }
    )
    patch_cache_control(response, public=True, max_age=60)
    patch_vary_headers(response, ["Accept-Language", "Cookie"])
    return response
