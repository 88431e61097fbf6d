from datetime import date, datetime

from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from events.models import Event
from events.selectors import MAX_RADIUS_METERS, ORDERINGS, day_end, day_start

START_INVALID = _("Give a date (2026-12-24) or a date and time (2026-12-24T18:00).")
NEAR_INVALID = _("Give the point as 'lat,lon', e.g. 51.0683,13.7573.")
BBOX_INVALID = _("Give the box as 'minlon,minlat,maxlon,maxlat'.")
END_BEFORE_START = _("The end lies before the start.")


def _moment(value: str, *, end: bool) -> datetime:
    """A date means its whole day: as a start its first moment, as an end its last."""
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return day_end(day) if end else day_start(day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise serializers.ValidationError(START_INVALID) from exc
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class EventQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="full-text search, German and English (stemmed: 'Märkte' finds 'Markt')",
    )
    start = serializers.CharField(
        required=False, help_text="ISO date or datetime; events ending after it (default: now)"
    )
    end = serializers.CharField(
        required=False, help_text="ISO date (inclusive) or datetime; events starting before it"
    )
    near = serializers.CharField(required=False, help_text="lat,lon")
    radius = serializers.FloatField(
        required=False,
        min_value=1,
        max_value=MAX_RADIUS_METERS,
        help_text="metres around `near` (default 1000)",
    )
    bbox = serializers.CharField(required=False, help_text="minlon,minlat,maxlon,maxlat")
    district = serializers.CharField(required=False, help_text="district code")
    category = serializers.CharField(required=False, help_text="category code(s), comma-separated")
    ordering = serializers.ChoiceField(
        choices=ORDERINGS,
        required=False,
        help_text="relevance (default with q: the best of the 200 matches soonest after start), "
        "start (default; every match), -start, distance (with near)",
    )

    def validate_start(self, value: str) -> datetime:
        return _moment(value, end=False)

    def validate_end(self, value: str) -> datetime:
        return _moment(value, end=True)

    def validate_near(self, value: str) -> Point:
        try:
            lat, lon = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise serializers.ValidationError(NEAR_INVALID) from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise serializers.ValidationError(NEAR_INVALID)
        return Point(lon, lat, srid=4326)

    def validate_bbox(self, value: str) -> tuple[float, float, float, float]:
        try:
            minlon, minlat, maxlon, maxlat = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise serializers.ValidationError(BBOX_INVALID) from exc
        if minlon > maxlon or minlat > maxlat:
            raise serializers.ValidationError(BBOX_INVALID)
        return (minlon, minlat, maxlon, maxlat)

    def validate_category(self, value: str) -> list[str]:
        return [code.strip() for code in value.split(",") if code.strip()]

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": END_BEFORE_START})
        return attrs


class EventSerializer(GeoFeatureModelSerializer):
    district = serializers.CharField(source="district.code", allow_null=True, default=None)
    district_name = serializers.CharField(source="district.name", allow_null=True, default=None)
    category_label = serializers.CharField(read_only=True)
    cancelled = serializers.BooleanField(source="is_cancelled", read_only=True)
    distance_m = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    ics_url = serializers.SerializerMethodField()

    class Meta:
        model = Event
        geo_field = "location"
        fields = [
            "id",
            "title",
            "description",
            "start",
            "end",
            "all_day",
            "venue_name",
            "district",
            "district_name",
            "category",
            "category_label",
            "status",
            "cancelled",
            "url",
            "organiser",
            "distance_m",
            "page_url",
            "ics_url",
        ]

    def get_distance_m(self, event: Event) -> float | None:
        distance = getattr(event, "distance", None)
        return round(distance.m, 1) if distance is not None else None

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_page_url(self, event: Event) -> str:
        return self._absolute(reverse("frontend:event-detail", args=[event.pk]))

    def get_ics_url(self, event: Event) -> str:
        return self._absolute(reverse("frontend:event-ics", args=[event.pk]))


class PickupQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    date = serializers.DateField(required=False, help_text="the day of the report (default today)")


class PickupCheckSerializer(serializers.Serializer):
    probable_pickup = serializers.BooleanField()
    date = serializers.DateField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    collection = EventSerializer(allow_null=True)
