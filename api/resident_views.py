"""Small JSON endpoints the resident's report form uses: nearby open reports (possible
duplicates), "I see this too" confirmations, and the street/house-number search."""

from django.contrib.gis.geos import Point
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from districts.selectors import address_search
from reports.selectors import report_list, reports_nearby_public
from reports.services import category_by_code, report_confirm

NEARBY_METERS = 30
NEARBY_LIMIT = 5


class NearbyQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    category = serializers.CharField(max_length=64)


class NearbyReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    icon = serializers.CharField(source="category.icon")
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    distance_m = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    confirmations_count = serializers.IntegerField()
    thumbnail_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    def get_distance_m(self, report) -> int:
        return round(report.distance.m)

    def get_thumbnail_url(self, report) -> str | None:
        photos = getattr(report, "public_photos", [])
        return photos[0].thumbnail.url if photos and photos[0].thumbnail else None

    def get_page_url(self, report) -> str:
        return reverse("frontend:report-detail", args=[report.pk])


class ReportNearbyApi(APIView):
    @extend_schema(
        parameters=[NearbyQuerySerializer],
        responses={200: NearbyReportSerializer(many=True)},
        summary="Open reports of a category within about 30 m (possible duplicates)",
    )
    def get(self, request):
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        point = Point(query.validated_data["lon"], query.validated_data["lat"], srid=4326)
        category = category_by_code(query.validated_data["category"])
        reports = reports_nearby_public(point=point, category=category, meters=NEARBY_METERS)[
            :NEARBY_LIMIT
        ]
        return Response({"results": NearbyReportSerializer(reports, many=True).data})


class ReportConfirmApi(APIView):
    throttle_scope = "report_submit"
    throttle_classes = [ScopedRateThrottle]
    serializer_class = None  # answers a small fixed JSON object (for the OpenAPI schema)

    @extend_schema(request=None, summary="'I see this too': confirm an open report")
    def post(self, request, pk: int):
        report = get_object_or_404(report_list(), pk=pk)
        report = report_confirm(report=report, actor=request.user)
        return Response(
            {
                "id": report.pk,
                "confirmations_count": report.confirmations_count,
                "page_url": reverse("frontend:report-detail", args=[report.pk]),
            }
        )


class AddressSerializer(serializers.Serializer):
    street = serializers.CharField()
    house_number = serializers.CharField()
    postcode = serializers.CharField()
    label = serializers.CharField(source="__str__")
    lat = serializers.FloatField(source="location.y")
    lon = serializers.FloatField(source="location.x")
    district = serializers.CharField(source="district.name", default=None)


class AddressSearchApi(APIView):
    @extend_schema(
        responses={200: AddressSerializer(many=True)},
        summary="Street and house-number search in the city's address list",
    )
    def get(self, request):
        found = address_search(query=request.query_params.get("q", "")[:100])
        return Response({"results": AddressSerializer(found, many=True).data})


urlpatterns = [
    path("reports/nearby/", ReportNearbyApi.as_view(), name="report-nearby"),
    path("reports/<int:pk>/confirm/", ReportConfirmApi.as_view(), name="report-confirm"),
    path("addresses/", AddressSearchApi.as_view(), name="address-search"),
]
