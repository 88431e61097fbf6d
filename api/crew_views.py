"""Crew tablet API: the queue, one ticket, the four actions and the day plan.

Tickets of other crews are a 404 to read and a 403 to change; a stale `expected_version`
answers 409 with the current state; `Idempotency-Key` makes a resend safe.
"""

from django.conf import settings
from django.contrib.gis.geos import Point
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.crew_serializers import (
    CrewActionInputSerializer,
    CrewActionResultSerializer,
    CrewCloseInputSerializer,
    CrewConflictSerializer,
    CrewDuplicateInputSerializer,
    CrewQueueItemSerializer,
    CrewRejectInputSerializer,
    CrewTicketSerializer,
    PlanProgressSerializer,
    PlanSerializer,
)
from core.idempotency import idempotency_for
from crews import actions
from crews.day_plans import day_plan_request
from crews.models import DayPlan
from crews.queue import crew_queue, crew_ticket_get, duplicate_candidates, member_crews
from reports.models import Report

CREW_TAG = ["crew"]

KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A unique string per action taken on the tablet; a resend with the same key "
    "is applied once and answers what the first attempt answered (`replayed: true`).",
)


class CrewApi(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]


class CrewTokenApi(ObtainAuthToken):
    """Exchange a crew member's username and password for an API token."""

    @extend_schema(
        tags=CREW_TAG,
        summary="Get an API token (send it as `Authorization: Token <key>`)",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("CrewToken", fields={"token": serializers.CharField()}),
            400: OpenApiResponse(description="wrong username or password"),
            429: OpenApiResponse(description="too many failed logins: locked until a time"),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        finally:
            # django-axes marks a locked-out login on the request it was given, which is DRF's
            # wrapper here; its middleware reads Django's request and answers the 429.
            if getattr(request, "axes_locked_out", False):
                request._request.axes_locked_out = True
                request._request.axes_credentials = getattr(request, "axes_credentials", None)


class QueueQuerySerializer(serializers.Serializer):
    crew = serializers.CharField(required=False, help_text="crew code")
    category = serializers.CharField(required=False, help_text="category code")
    status = serializers.ChoiceField(
        required=False, choices=[s.value for s in Report.OPEN_STATUSES]
    )
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def validate(self, data: dict) -> dict:
        if ("lat" in data) != ("lon" in data):
            raise serializers.ValidationError(
                {"lon" if "lat" in data else "lat": _("Send lat and lon together, or neither.")}
            )
        return data


class CrewQueueApi(CrewApi):
    @extend_schema(
        tags=CREW_TAG,
        parameters=[QueueQuerySerializer],
        responses={200: CrewQueueItemSerializer(many=True)},
        summary="My queue: open tickets of my crews, late first, then by deadline",
    )
    def get(self, request):
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        position = Point(data["lon"], data["lat"], srid=4326) if "lat" in data else None
        now = timezone.now()
        rows = crew_queue(
            user=request.user,
            now=now,
            crew=data.get("crew"),
            category=data.get("category"),
            status=data.get("status"),
            position=position if "lon" in data else None,
        )
        return Response(CrewQueueItemSerializer(rows, many=True, context={"now": now}).data)


def _visible_ticket(request, pk: int) -> Report:
    report = crew_ticket_get(user=request.user, report_id=pk)
    if report is None:
        raise Http404
    return report


def ticket_body(request, report: Report) -> dict:
    context = {
        "request": request,
        "duplicate_candidates": list(duplicate_candidates(report=report)[:20])
        if report.is_open
        else [],
    }
    return CrewTicketSerializer(report, context=context).data


class CrewTicketApi(CrewApi):
    @extend_schema(
        tags=CREW_TAG,
        responses={200: CrewTicketSerializer, 404: OpenApiResponse(description="not my crew's")},
        summary="One of my tickets with photos, history, flags and nearby open tickets",
    )
    def get(self, request, pk: int):
        return Response(ticket_body(request, _visible_ticket(request, pk)))


class _CrewActionApi(CrewApi):
    input_serializer: type[serializers.Serializer] = CrewActionInputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def post(self, request, pk: int):
        report = Report.objects.filter(pk=pk).first()
        if report is None:
            raise Http404
        payload = self.input_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        duplicate_of = None
        if "duplicate_of" in data:
            duplicate_of = Report.objects.filter(pk=data["duplicate_of"]).first()
        result = self.operate(
            user=request.user,
            report=report,
            expected_version=data["expected_version"],
            # A resend replays the first answer; the same key with another body is a 422.
            **idempotency_for(request, request.headers.get("Idempotency-Key")),
            note=data.get("note", ""),
            data=data,
            duplicate_of=duplicate_of,
        )
        return Response({**result.response, "replayed": result.replayed})

    def operate(self, *, data: dict, duplicate_of: Report | None, **common):
        raise NotImplementedError


def _action_schema(summary: str, request_serializer):
    return extend_schema(
        tags=CREW_TAG,
        summary=summary,
        request=request_serializer,
        parameters=[KEY_PARAMETER],
        responses={
            200: CrewActionResultSerializer,
            400: OpenApiResponse(description="a broken rule, with a readable message"),
            403: OpenApiResponse(description="the ticket is not assigned to one of my crews"),
            404: OpenApiResponse(description="no such ticket"),
            409: OpenApiResponse(
                CrewConflictSerializer, description="changed meanwhile; `current` is the state"
            ),
            422: OpenApiResponse(
                description="the Idempotency-Key was used for another action or body on this "
                "ticket (`code`: idempotency_key_reused)"
            ),
        },
    )


class CrewStartApi(_CrewActionApi):
    @_action_schema("Start work on a ticket (→ in_progress)", CrewActionInputSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def operate(self, *, data: dict, duplicate_of: Report | None, **common):
        return actions.ticket_start(**common)


class CrewCloseApi(_CrewActionApi):
    input_serializer = CrewCloseInputSerializer

    @_action_schema(
        "Close a ticket as cleared, with an after-photo and an optional note",
        CrewCloseInputSerializer,
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def operate(self, *, data: dict, duplicate_of: Report | None, **common):
        return actions.ticket_close(**common, photo=data.get("photo"))


class CrewRejectApi(_CrewActionApi):
    input_serializer = CrewRejectInputSerializer

    @_action_schema("Reject a ticket with a reason from the list", CrewRejectInputSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def operate(self, *, data: dict, duplicate_of: Report | None, **common):
        return actions.ticket_reject(**common, reason=data.get("reason", ""))


class CrewDuplicateApi(_CrewActionApi):
    input_serializer = CrewDuplicateInputSerializer

    @_action_schema(
        "Mark a ticket as duplicate of an open ticket within 50 m", CrewDuplicateInputSerializer
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def operate(self, *, data: dict, duplicate_of: Report | None, **common):
        return actions.ticket_mark_duplicate(**common, duplicate_of=duplicate_of)


class CrewPlanApi(CrewApi):
    @extend_schema(
        tags=CREW_TAG,
        parameters=[
            OpenApiParameter("crew", OpenApiTypes.STR, description="crew code (default: my first)"),
            OpenApiParameter(
                "replan", OpenApiTypes.BOOL, description="plan again now, even if unchanged"
            ),
        ],
        responses={
            200: PlanSerializer,
            202: OpenApiResponse(
                PlanProgressSerializer, description="being planned: poll again (Retry-After)"
            ),
            404: OpenApiResponse(description="no crew with a depot"),
            503: OpenApiResponse(PlanProgressSerializer, description="planning failed"),
        },
        summary="My day plan: at most CREW_PLAN_MAX_TICKETS tickets, deadlines first, "
        "computed in the background",
    )
    def get(self, request):
        crews = member_crews(user=request.user).exclude(depot__isnull=True)
        crew = crews.filter(code=request.query_params.get("crew", "")).first() or crews.first()
        if crew is None:
            raise Http404
        try:
            replan = serializers.BooleanField().run_validation(
                request.query_params.get("replan", "false") or "false"
            )
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"replan": error.detail}) from error
        plan = day_plan_request(crew=crew, user=request.user, replan=replan)
        body = {
            "crew": crew.code,
            "status": plan.status,
            "progress": plan.progress,
            "open_tickets": plan.open_count,
            "max_tickets": settings.CREW_PLAN_MAX_TICKETS,
            "planned_at": plan.finished_at,
        }
        if plan.status == DayPlan.Status.DONE:
            return Response({**body, **plan.result})
        if plan.status == DayPlan.Status.FAILED:
            body["detail"] = _("The route could not be planned. Please try again.")
            return Response(body, status=503, headers={"Retry-After": "10"})
        return Response(body, status=202, headers={"Retry-After": "2"})
