"""Dispatcher API: statistics, hotspots (and preventive rounds from them), exports and the open
tickets as vector tiles. Dispatchers only, like dispatch_views.py."""

import csv
import io
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import Point
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response

from api import geo_views, tiles
from api.dispatch_views import DispatchApi, validated
from crews.hotspots import hotspot_crew, hotspots_find, preventive_task_create
from crews.models import Crew
from crews.selectors import EXPORT_COLUMNS, tickets_for_export
from crews.stats import (
    DEFAULT_PERIOD,
    PERIOD_PRESETS,
    StatsFilter,
    period_preset,
    stats_by_district,
    stats_summary,
    stats_weekly,
)
from reports.models import Report
from reports.selectors import reports_public_points

# --- statistics, hotspots, exports ------------------------------------------------------------


class PeriodInput(serializers.Serializer):
    preset = serializers.ChoiceField(
        choices=PERIOD_PRESETS,
        required=False,
        help_text="a named period (as on the statistics page); wins over start and end",
    )
    start = serializers.DateField(
        required=False, help_text="first day (local), default: 30 days ago"
    )
    end = serializers.DateField(
        required=False, help_text="last day (local, included), default: today"
    )
    district = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True, default="")
    crew = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, data: dict) -> dict:
        today = timezone.localdate()
        if data.get("preset"):
            data["start"], data["end"] = period_preset(data["preset"], today=today)
            return data
        default_start, default_end = period_preset(DEFAULT_PERIOD, today=today)
        data["end"] = data.get("end") or default_end
        data["start"] = data.get("start") or data["end"] - (default_end - default_start)
        if data["start"] > data["end"]:
            raise serializers.ValidationError({"start": "The period starts after it ends."})
        return data


def period_filter(params) -> StatsFilter:
    payload = PeriodInput(data=params)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    return StatsFilter(
        start=data["start"],
        end=data["end"],
        district=data["district"] or None,
        category=data["category"] or None,
        crew=data["crew"] or None,
    )


class StatsApi(DispatchApi):
    def get(self, request):
        f = period_filter(request.query_params)
        now = timezone.now()
        return Response(
            {
                "period": {"start": f.start, "end": f.end},
                "filters": {"district": f.district, "category": f.category, "crew": f.crew},
                "summary": stats_summary(f=f, now=now),
                "districts": stats_by_district(f=f, now=now),
                "weekly": stats_weekly(f=f, now=now),
            }
        )


class HotspotInput(PeriodInput):
    radius = serializers.FloatField(default=50, min_value=5, max_value=2000)
    min_count = serializers.IntegerField(default=3, min_value=2, max_value=1000)


def hotspot_query(params) -> tuple[StatsFilter, dict]:
    payload = HotspotInput(data=params)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    f = StatsFilter(
        start=data["start"],
        end=data["end"],
        district=data["district"] or None,
        category=data["category"] or None,
    )
    return f, {"radius_m": data["radius"], "min_count": data["min_count"]}


def hotspots_for(f: StatsFilter, options: dict) -> list:
    start, end = f.bounds()
    return hotspots_find(start=start, end=end, category=f.category, district=f.district, **options)


class HotspotsApi(DispatchApi):
    def get(self, request):
        f, options = hotspot_query(request.query_params)
        features = []
        for spot in hotspots_for(f, options):
            crew = hotspot_crew(center=spot.center, category=spot.category)
            features.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(spot.center.geojson),
                    "properties": {
                        "rank": spot.rank,
                        "count": spot.count,
                        "open_count": spot.open_count,
                        "radius_m": spot.radius_m,
                        "report_ids": spot.report_ids,
                        "category": spot.category,
                        "district": spot.district,
                        "district_name": spot.district_name,
                        "crew": crew.code if crew else None,
                        "first_at": spot.first_at,
                        "last_at": spot.last_at,
                    },
                }
            )
        return Response({"type": "FeatureCollection", "features": features})


class PreventiveInput(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    radius_m = serializers.FloatField(min_value=0, max_value=5000, default=50)
    category = serializers.CharField(required=False, allow_blank=True, default="")
    report_count = serializers.IntegerField(min_value=0, default=0)
    crew = serializers.SlugRelatedField(
        slug_field="code", queryset=Crew.objects.filter(active=True), required=False
    )
    interval_days = serializers.IntegerField(default=7)
    first_on = serializers.DateField(required=False, allow_null=True, default=None)
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class PreventiveTaskCreateApi(DispatchApi):
    def post(self, request):
        data = validated(PreventiveInput, request)
        task = preventive_task_create(
            center=Point(data["lon"], data["lat"], srid=4326),
            radius_m=data["radius_m"],
            category=data["category"] or None,
            report_count=data["report_count"],
            actor=request.user,
            crew=data.get("crew"),
            interval_days=data["interval_days"],
            first_on=data["first_on"],
            title=data["title"],
            notes=data["notes"],
        )
        return Response(
            {
                "id": task.pk,
                "crew": task.crew.code,
                "title": task.title,
                "interval_days": task.interval_days,
                "next_due_on": task.next_due_on,
            },
            status=201,
        )


class ExportInput(PeriodInput):
    status = serializers.ChoiceField(choices=["all", "open", "closed"], default="all")
    sep = serializers.ChoiceField(choices=["comma", "semicolon"], default="comma")


def export_rows(params) -> tuple[list[dict], dict]:
    payload = ExportInput(data=params)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    tz = ZoneInfo(settings.TIME_ZONE)
    status = {
        "all": None,
        "open": list(Report.OPEN_STATUSES),
        "closed": [s for s in Report.Status.values if s not in Report.OPEN_STATUSES],
    }[data["status"]]
    rows = tickets_for_export(
        start=datetime.combine(data["start"], time.min, tzinfo=tz),
        end=datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=tz),
        status=status,
        district=data["district"] or None,
        category=data["category"] or None,
        crew=data["crew"] or None,
    )
    # Exports may leave the city (open data): published reports only, at their public point
    # (a grid-cell centre for sensitive categories).
    points = reports_public_points(ids=[row["id"] for row in rows])
    rows = [
        {**row, "lon": points[row["id"]][0], "lat": points[row["id"]][1]}
        for row in rows
        if row["id"] in points
    ]
    return rows, data


def _filename(data: dict, ext: str) -> str:
    return f"civicmap-tickets-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.{ext}"


def _cell(value, *, decimal_comma: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, float):
        number = f"{value:.6f}"
        return number.replace(".", ",") if decimal_comma else number
    return str(value)


class ExportCsvApi(DispatchApi):
    """CSV, UTF-8 with byte-order mark (so spreadsheet software detects the encoding).
    Default: `,` between fields and a decimal point, for programs. `sep=semicolon`: the German
    spreadsheet convention, `;` between fields and a decimal comma (51,039198), so German
    Excel and LibreOffice read the coordinates as numbers instead of 51039198."""

    def get(self, request):
        rows, data = export_rows(request.query_params)
        german = data["sep"] == "semicolon"
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";" if german else ",")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[column], decimal_comma=german) for column in EXPORT_COLUMNS])
        response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_filename(data, "csv")}"'
        return response


class ExportGeoJsonApi(DispatchApi):
    def get(self, request):
        rows, data = export_rows(request.query_params)
        features = [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": {
                    k: (timezone.localtime(v).isoformat() if isinstance(v, datetime) else v)
                    for k, v in row.items()
                    if k not in ("lat", "lon")
                },
            }
            for row in rows
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/geo+json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_filename(data, "geojson")}"'
        return response


class TicketTileApi(DispatchApi):
    """Open tickets as a Mapbox vector tile (layer `tickets`: id, priority, deadline state), for
    the live map when it has too many tickets for markers. Staff only, never cached by shared
    caches (exact locations, states change by the minute); the ETag saves the bytes of an
    unchanged tile. No ticket: 204."""

    def get(self, request, z: int, x: int, y: int):
        if not tiles.tile_valid(z, x, y):
            return Response({"detail": "no such tile"}, status=400)
        body = tiles.ticket_tile(z=z, x=x, y=y, now=timezone.now())
        return geo_views.tile_response(request, body, private=True)
