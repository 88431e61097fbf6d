from functools import partial

from django.contrib.gis.geos import Point
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination

from api.filters import BBoxFilter, ReportFilter
from api.serializers import (
    CategorySerializer,
    DistrictSerializer,
    ReportCreatedSerializer,
    ReportFlagInputSerializer,
    ReportInputSerializer,
    ReportSerializer,
    RouteQuerySerializer,
    RouteSerializer,
)
from core.abuse import (
    HONEYPOT_FIELD,
    FlagIPThrottle,
    SubmitEmailThrottle,
    SubmitIPThrottle,
    check_throttles,
    honeypot_filled,
)
from core.idempotency import idempotency_for
from core.pagination import CountedPaginator
from crews.models import Assignment
from crews.selectors import route_compute
from crews.services import report_submit
from districts.selectors import district_list, place_for_point
from reports.selectors import category_list, report_list, reports_count
from reports.services import (
    category_by_code,
    location_check,
    report_public_flag,
)

HONEYPOT_REFUSED = (
    f"This submission was refused: the hidden field '{HONEYPOT_FIELD}' must stay empty."
)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string per submission; a retry with the same key returns the "
    "report the first attempt created (200) instead of creating another.",
)


# Query parameters that page, not filter: with only these, the list is every published report.
PAGING_PARAMETERS = {"page", "page_size", "format"}


class ReportPagination(GeoJsonPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        if set(request.query_params) <= PAGING_PARAMETERS:
            # Unfiltered: the total from the kept counts (exact), not count(*) over every
            # report ever kept on each page.
            self.django_paginator_class = partial(CountedPaginator, count=reports_count)
        return super().paginate_queryset(queryset, request, view)


def _with_crew(reports):
    return reports.prefetch_related(
        Prefetch(
            "assignments",
            queryset=Assignment.objects.filter(active=True).select_related("crew"),
            to_attr="active_assignments",
        )
    )


class ReportListCreateApi(generics.ListAPIView):
    serializer_class = ReportSerializer
    pagination_class = ReportPagination
    filter_backends = [DjangoFilterBackend, BBoxFilter]
    filterset_class = ReportFilter
    # Public output: filter and show the public (coarse for sensitive categories) point.
    bbox_filter_field = "public_location"
    bbox_filter_include_overlapping = False
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        # Published reports only: pre-moderated ones wait for approval, hidden ones are gone.
        return _with_crew(report_list())

    @extend_schema(
        request=ReportInputSerializer,
        responses={201: ReportCreatedSerializer, 200: ReportCreatedSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Submit a report (multipart; `photo` may repeat)",
    )
    def post(self, request):
        # Per-IP and per-e-mail limits (REPORT_SUBMIT_RATE_PER_IP / _PER_EMAIL): a clear 429.
        check_throttles(request, self, [SubmitIPThrottle(), SubmitEmailThrottle()])
        if honeypot_filled(request.data):
            return Response({"detail": HONEYPOT_REFUSED}, status=status.HTTP_400_BAD_REQUEST)
        payload = ReportInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        location = Point(data["lon"], data["lat"], srid=4326) if "lat" in data else None
        report, created = report_submit(
            category=data["category"],
            location=location,
            description=data["description"],
            photos=data["photo"],
            email=data["email"],
            **idempotency_for(request, request.headers.get("Idempotency-Key")),
            actor=request.user,
        )
        # The submitter sees their report even while it waits for approval.
        report = _with_crew(report_list(published_only=False)).get(pk=report.pk)
        body = ReportCreatedSerializer(report, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReportDetailApi(generics.RetrieveAPIView):
    serializer_class = ReportSerializer

    def get_queryset(self):
        return _with_crew(report_list())


class ReportFlagApi(APIView):
    """The public says a report is inappropriate; staff see it in the moderation queue."""

    @extend_schema(
        request=ReportFlagInputSerializer,
        responses={202: None},
        summary="Flag a report as inappropriate (rate-limited per IP)",
    )
    def post(self, request, pk: int):
        check_throttles(request, self, [FlagIPThrottle()])
        report = generics.get_object_or_404(report_list(), pk=pk)
        if not isinstance(request.data, dict):  # a JSON list, string or number is no flag
            raise exceptions.ValidationError(
                {"detail": _('Send an object, e.g. {"reason": "..."}.')}
            )
        payload = ReportFlagInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        report_public_flag(report=report, note=payload.validated_data["reason"])
        return Response(
            {"detail": "Thank you. The city will look at this report."},
            status=status.HTTP_202_ACCEPTED,
        )


class CategoryListApi(generics.ListAPIView):
    serializer_class = CategorySerializer
    pagination_class = None

    def get_queryset(self):
        return category_list()


class DistrictListApi(generics.ListAPIView):
    serializer_class = DistrictSerializer
    pagination_class = None

    def get_queryset(self):
        return district_list()


class RoutePreviewApi(APIView):
    @extend_schema(
        parameters=[RouteQuerySerializer],
        responses={200: RouteSerializer},
        summary="Where a report made now would go, and when it would be due (nothing is saved)",
    )
    def get(self, request):
        query = RouteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        point = Point(query.validated_data["lon"], query.validated_data["lat"], srid=4326)
        category = category_by_code(query.validated_data["category"])
        location_check(point=point)
        route = route_compute(point=point, category=category, now=timezone.now())
        district, crew = route.district, route.crew
        return Response(
            RouteSerializer(
                {
                    "district": {"code": district.code, "name": district.name}
                    if district
                    else None,
                    "crew": {"code": crew.code, "name": crew.name} if crew else None,
                    "due_at": route.due_at,
                    "unassigned": crew is None,
                    "place": place_for_point(point=point, district=district).name,
                }
            ).data
        )
