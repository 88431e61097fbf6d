"""Event pages: search with a small map, one event with the open reports around it, and
single events as iCalendar files."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib.gis.geos import Point
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from districts.selectors import district_list
from events.ical_export import events_to_ical
from events.selectors import (
    EVENT_WINDOWS,
    RANKED_MATCHES,
    category_choices,
    day_end,
    day_start,
    event_get,
    event_search,
    event_window,
    venue_get,
    venue_list,
)
from frontend.maps_events import event_when, events_map
from reports.models import Report
from reports.selectors import reports_nearby_open

PAGE_SIZE = 20
NEARBY_REPORTS_METERS = 300
RADIUS_CHOICES = [(250, "250 m"), (500, "500 m"), (1000, "1 km"), (2000, "2 km"), (5000, "5 km")]
# The list is in date order unless the resident asks for the best matches (or the nearest).
ORDER_CHOICES = [
    ("date", _("date")),
    ("relevance", _("best match")),
    ("distance", _("distance")),
]
ORDERINGS = {"date": "start", "relevance": "relevance", "distance": "distance"}
# The labels of events.selectors.EVENT_WINDOWS, for the events page and the public map's filter.
WHEN_CHOICES = [
    ("", _("from now on")),
    ("today", _("today")),
    ("weekend", _("this weekend")),
    ("week", _("next 7 days")),
    ("month", _("next 30 days")),
]


def event_windows_config(*, today: date) -> dict:
    """The windows as the scripts need them: name -> [first, last] ISO day."""
    windows = {name: event_window(name, today=today) for name in EVENT_WINDOWS}
    return {name: [first.isoformat(), last.isoformat()] for name, (first, last) in windows.items()}


class EventSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    when = forms.ChoiceField(label=_("When"), choices=WHEN_CHOICES, required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    venue = forms.TypedChoiceField(label=_("Near"), required=False, coerce=int, empty_value=None)
    radius = forms.TypedChoiceField(
        label=_("Distance"), choices=RADIUS_CHOICES, coerce=int, required=False, initial=1000
    )
    district = forms.ChoiceField(label=_("District"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    order = forms.ChoiceField(label=_("Sort by"), choices=ORDER_CHOICES, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["venue"].choices = [("", _("anywhere"))] + [
            (v.pk, v.name) for v in venue_list()
        ]
        self.fields["district"].choices = [("", _("all districts"))] + [
            (d.code, d.name) for d in district_list()
        ]
        self.fields["category"].choices = [("", _("all categories")), *category_choices()]

    def search_arguments(self, *, today: date) -> dict:
        data = self.cleaned_data
        arguments: dict = {"q": data.get("q") or ""}
        first, last = data.get("start"), data.get("end")
        when = data.get("when")
        if when in EVENT_WINDOWS:
            first, last = event_window(when, today=today)
        if first:
            # "today" means what is still to come today.
            arguments["start"] = day_start(first)
            if first == today:
                arguments["start"] = max(arguments["start"], timezone.now())
        if last:
            arguments["end"] = day_end(last)
        venue = venue_get(venue_id=data["venue"]) if data.get("venue") else None
        if venue is not None:
            arguments["near"] = venue.location
            arguments["radius"] = data.get("radius") or 1000
        if data.get("district"):
            arguments["district"] = data["district"]
        if data.get("category"):
            arguments["category"] = data["category"]
        order = data.get("order") or "date"
        if order == "relevance" and not arguments["q"]:
            order = "date"  # nothing to rank without search words
        if order == "distance" and "near" not in arguments:
            order = "date"  # nothing to measure from without a place
        arguments["ordering"] = ORDERINGS[order]
        return arguments


def _api_query(arguments: dict) -> str:
    """The same search as query parameters of the API (and its .ics export)."""
    params = {}
    for name in ("q", "district", "category", "radius"):
        if arguments.get(name):
            params[name] = arguments[name]
    for name in ("start", "end"):
        if arguments.get(name):
            params[name] = timezone.localtime(arguments[name]).isoformat(timespec="minutes")
    if arguments.get("near") is not None:
        params["near"] = f"{arguments['near'].y:.6f},{arguments['near'].x:.6f}"
    return urlencode(params)


def open_reports_near(*, point: Point, meters: float) -> list[Report]:
    reports = list(reports_nearby_open(point=point, meters=meters).published()[:100])
    for report in reports:
        # A public page: show the public point (coarse for sensitive categories); never saved.
        report.location = report.public_location
    return reports


def _order_links(request: HttpRequest, ordering: str, arguments: dict) -> list[dict]:
    """The orders this list can switch to, each a link keeping the search (the current one
    marked): by date always, by best match with search words, by distance near a place."""
    links = []
    for code, label in ORDER_CHOICES:
        if code == "relevance" and not arguments.get("q"):
            continue
        if code == "distance" and arguments.get("near") is None:
            continue
        query = request.GET.copy()
        query.pop("page", None)
        query["order"] = code
        links.append(
            {
                "label": label,
                "url": f"?{query.urlencode()}",
                "current": ORDERINGS[code] == ordering,
            }
        )
    return links


def event_list(request: HttpRequest) -> HttpResponse:
    form = EventSearchForm(request.GET or None)
    arguments: dict = {}
    if form.is_bound and form.is_valid():
        arguments = form.search_arguments(today=timezone.localdate())
    ordering = arguments.get("ordering", "start")
    events = event_search(**arguments)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    reports = []
    if arguments.get("near") is not None:
        reports = open_reports_near(point=arguments["near"], meters=arguments["radius"])
    api_query = _api_query(arguments)
    page_query = request.GET.copy()
    page_query.pop("page", None)
    return render(
        request,
        "frontend/events/list.html",
        {
            "form": form,
            "page": page,
            "rows": [(event, event_when(event)) for event in page.object_list],
            # The map shows the events listed on this page, so list and map agree.
            "map": events_map(events=page.object_list, reports=reports),
            "reports_count": len(reports),
            # Relevance ranks the best of the soonest RANKED_MATCHES matches (events.selectors):
            # say so when the list may be cut there.
            "ranked_cap": RANKED_MATCHES
            if arguments.get("q")
            and ordering == "relevance"
            and page.paginator.count >= RANKED_MATCHES
            else None,
            "orders": _order_links(request, ordering, arguments),
            "filters_active": sum(
                1
                for name in ("q", "when", "start", "end", "venue", "district", "category")
                if request.GET.get(name)
            ),
            "page_query": page_query.urlencode(),
            "ics_url": f"{reverse('api:event-calendar')}?{api_query}",
            # Calendar apps subscribe to webcal:// links (and fetch them again by themselves).
            "webcal_url": f"webcal://{request.get_host()}{reverse('api:event-calendar')}?{api_query}",
            "geojson_url": f"{reverse('api:event-list')}?{api_query}",
        },
    )


def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = event_get(event_id=pk)
    if event is None:
        raise Http404
    reports = []
    if event.location is not None:
        reports = open_reports_near(point=event.location, meters=NEARBY_REPORTS_METERS)
    return render(
        request,
        "frontend/events/detail.html",
        {
            "event": event,
            "when": event_when(event),
            "reports": reports,
            "nearby_meters": NEARBY_REPORTS_METERS,
            "map": events_map(events=[event], reports=reports, height="45vh"),
        },
    )


def event_ics(request: HttpRequest, pk: int) -> HttpResponse:
    event = event_get(event_id=pk)
    if event is None:
        raise Http404
    response = HttpResponse(
        events_to_ical(events=[event], name=event.title),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response
