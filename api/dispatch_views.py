"""Dispatcher API: the live map's GeoJSON and the ticket actions (statistics, hotspots, exports
and the ticket tiles are in dispatch_report_views.py).

Only dispatchers (group `dispatchers`) and superusers get in; everyone else gets 403 (401/403
for anonymous callers, depending on the authentication scheme)."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import get_language
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crews import dispatch
from crews.models import Crew
from crews.selectors import (
    assignment_active,
    is_dispatcher,
    open_tickets_geojson,
)
from reports.models import Report
from reports.services import category_by_code


class IsDispatcher(permissions.BasePermission):
    message = "Only dispatchers may do this."

    def has_permission(self, request, view) -> bool:
        return is_dispatcher(request.user)


class DispatchApi(APIView):
    permission_classes = [IsDispatcher]
    # The schema has no body serializer for these views (they answer plain JSON/CSV).
    serializer_class = None


def _ticket(report: Report) -> dict:
    report.refresh_from_db()
    active = assignment_active(report=report)
    return {
        "id": report.pk,
        "status": report.status,
        "category": report.category.code,
        "priority": report.priority,
        "crew": active.crew.code if active else None,
        "due_at": report.due_at,
        "confirmations_count": report.confirmations_count,
        "version": report.version,
    }


class OpenTicketsApi(DispatchApi):
    """All open tickets with their deadline state and counts per state (map polling fallback)."""

    def get(self, request):
        data = open_tickets_geojson(now=timezone.now(), language=get_language() or "de")
        return Response(data)


class ReassignInput(serializers.Serializer):
    crew = serializers.SlugRelatedField(
        slug_field="code", queryset=Crew.objects.filter(active=True)
    )
    reason = serializers.CharField(max_length=300)


class ReassignApi(DispatchApi):
    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(ReassignInput, request)
        dispatch.dispatch_reassign(
            report=report, crew=data["crew"], actor=request.user, reason=data["reason"]
        )
        return Response(_ticket(report))


class CategoryInput(serializers.Serializer):
    category = serializers.CharField(max_length=64)
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CategoryApi(DispatchApi):
    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(CategoryInput, request)
        dispatch.dispatch_change_category(
            report=report,
            category=category_by_code(data["category"]),
            actor=request.user,
            due_at=data["due_at"],
            reason=data["reason"],
        )
        return Response(_ticket(report))


class PriorityInput(serializers.Serializer):
    priority = serializers.IntegerField()


class PriorityApi(DispatchApi):
    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(PriorityInput, request)
        dispatch.dispatch_set_priority(report=report, priority=data["priority"], actor=request.user)
        return Response(_ticket(report))


class MergeInput(serializers.Serializer):
    into = serializers.IntegerField(help_text="id of the ticket to keep")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MergeApi(DispatchApi):
    """Merge this ticket (the duplicate) into `into` (the ticket kept)."""

    def post(self, request, pk: int):
        duplicate = get_object_or_404(Report, pk=pk)
        data = validated(MergeInput, request)
        keep = get_object_or_404(Report, pk=data["into"])
        kept = dispatch.dispatch_merge(
            duplicate=duplicate, keep=keep, actor=request.user, note=data["note"]
        )
        return Response(_ticket(kept))


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReopenApi(DispatchApi):
    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(ReasonInput, request)
        dispatch.dispatch_reopen(
            report=report, actor=request.user, reason=data["reason"], due_at=data["due_at"]
        )
        return Response(_ticket(report))


class ReleaseApi(DispatchApi):
    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(ReasonInput, request)
        dispatch.dispatch_release(report=report, actor=request.user, reason=data["reason"])
        return Response(_ticket(report))


def validated(serializer_class, request) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class FlagClearInput(serializers.Serializer):
    flag = serializers.IntegerField(help_text="id of the open flag to clear")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class FlagClearApi(DispatchApi):
    """Clear one open flag of the ticket (recorded in its history, pushed to open maps)."""

    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        data = validated(FlagClearInput, request)
        dispatch.dispatch_flag_clear(
            report=report, flag_id=data["flag"], actor=request.user, note=data["note"]
        )
        return Response(_ticket(report))


class SeenApi(DispatchApi):
    """A dispatcher looked at a new ticket: it is no longer "new" on the live map."""

    def post(self, request, pk: int):
        report = get_object_or_404(Report, pk=pk)
        dispatch.dispatch_mark_seen(report=report, actor=request.user)
        return Response(_ticket(report))
