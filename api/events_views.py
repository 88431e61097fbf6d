"""Event search for the public: GeoJSON, an iCalendar export of the same search, and the
bulky-waste pickup check the report form asks before sending."""

from django.contrib.gis.geos import Point
from django.http import Http404, HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination

from api.events_serializers import (
    EventQuerySerializer,
    EventSerializer,
    PickupCheckSerializer,
    PickupQuerySerializer,
)
from events.ical_export import events_to_ical
from events.selectors import event_get, event_search, pickup_check

# The export holds at most this many matches, the soonest first; a cut list says so inside the
# file (calendar DESCRIPTION) and in the X-Total-Count / X-Included-Count headers.
ICS_MAX_EVENTS = 1000
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


class EventPagination(GeoJsonPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def search_from_query(params) -> dict:
    query = EventQuerySerializer(data=params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class EventListApi(generics.ListAPIView):
    serializer_class = EventSerializer
    pagination_class = EventPagination
    filter_backends = []

    def get_queryset(self):
        return event_search(**search_from_query(self.request.query_params))

    @extend_schema(
        parameters=[EventQuerySerializer],
        summary="Search events (GeoJSON FeatureCollection): text, dates, place, category",
        tags=["events"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


def ical_response(events, *, name: str, filename: str, note: str = "") -> HttpResponse:
    response = HttpResponse(
        events_to_ical(events=events, name=name, note=note), content_type=ICS_CONTENT_TYPE
    )
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "public, max-age=900"
    return response


class EventCalendarApi(APIView):
    @extend_schema(
        parameters=[EventQuerySerializer],
        responses={(200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR)},
        summary="The same search as an iCalendar file (subscribe to it in a calendar app)",
        operation_id="api_v1_events_calendar",
        tags=["events"],
    )
    def get(self, request: Request) -> HttpResponse:
        matches = event_search(**search_from_query(request.query_params))
        events = list(matches[: ICS_MAX_EVENTS + 1])
        total = len(events)
        note = ""
        if total > ICS_MAX_EVENTS:
            events = events[:ICS_MAX_EVENTS]
            total = matches.count()
            note = _(
                "This calendar holds the first %(included)s of %(total)s matching events. "
                "Narrow the search (dates, place, category) to get the others."
            ) % {"included": ICS_MAX_EVENTS, "total": total}
        response = ical_response(
            events, name=_("Events – civicmap"), filename="events.ics", note=note
        )
        response["X-Total-Count"] = str(total)
        response["X-Included-Count"] = str(len(events))
        return response


@extend_schema(tags=["events"], summary="One event (GeoJSON Feature)")
class EventDetailApi(generics.RetrieveAPIView):
    serializer_class = EventSerializer

    def get_object(self):
        event = event_get(event_id=self.kwargs["pk"])
        if event is None:
            raise Http404
        return event


def _pickup_message(day) -> str:
    return _("This is probably a booked pickup on %(date)s.") % {
        "date": formats.date_format(day, "SHORT_DATE_FORMAT")
    }


class EventPickupCheckApi(APIView):
    @extend_schema(
        parameters=[PickupQuerySerializer],
        responses={200: PickupCheckSerializer},
        summary="Is there a scheduled public bulky-waste collection within 50 m on this day or "
        "the next two? (asked by the report form before sending)",
        tags=["events"],
    )
    def get(self, request: Request) -> Response:
        query = PickupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        point = Point(data["lon"], data["lat"], srid=4326)
        check = pickup_check(point=point, day=data.get("date") or timezone.localdate())
        body = {
            "probable_pickup": check.probable,
            "date": check.day,
            "message": _pickup_message(check.day) if check.probable else "",
            "collection": check.collection,
        }
        return Response(PickupCheckSerializer(body, context={"request": request}).data)
