from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crews.actions import REJECT_REASONS
from reports.models import Report, ReportPhoto


def _absolute(request, field) -> str | None:
    if not field:
        return None
    return request.build_absolute_uri(field.url) if request else field.url


class CrewQueueItemSerializer(serializers.Serializer):
    """One row of a member's queue (built from an active assignment)."""

    id = serializers.IntegerField(source="report_id")
    crew = serializers.CharField(source="crew.code")
    category = serializers.CharField(source="report.category.code")
    category_name = serializers.CharField(source="report.category.name")
    district_name = serializers.CharField(source="report.district.name", default=None)
    address = serializers.CharField(source="report.address")
    nearest_street = serializers.CharField(
        allow_null=True, help_text="the closest street in the address list (within ~100 m)"
    )
    status = serializers.CharField(source="report.status")
    version = serializers.IntegerField(source="report.version")
    due_at = serializers.DateTimeField()
    is_late = serializers.BooleanField()
    seconds_to_deadline = serializers.SerializerMethodField(
        help_text="negative when the deadline has passed"
    )
    distance_m = serializers.SerializerMethodField(
        help_text="metres from the given lat/lon, null without a position"
    )
    lat = serializers.FloatField(source="report.location.y")
    lon = serializers.FloatField(source="report.location.x")
    url = serializers.SerializerMethodField()

    def get_seconds_to_deadline(self, row) -> int:
        return int((row.due_at - self.context.get("now", timezone.now())).total_seconds())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_distance_m(self, row) -> int | None:
        distance = getattr(row, "distance", None)
        return round(distance.m) if distance is not None else None

    def get_url(self, row) -> str:
        return reverse("api:crew:ticket-detail", args=[row.report_id])


class CrewPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportPhoto
        fields = ["id", "kind", "state", "url", "thumbnail_url", "created_at"]

    def get_url(self, photo: ReportPhoto) -> str | None:
        return _absolute(self.context.get("request"), photo.public_image)

    def get_thumbnail_url(self, photo: ReportPhoto) -> str | None:
        return _absolute(self.context.get("request"), photo.thumbnail)


class CrewEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    note = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)


class CrewFlagSerializer(serializers.Serializer):
    kind = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class DuplicateCandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category_name = serializers.CharField(source="category.name")
    status = serializers.CharField()
    distance_m = serializers.SerializerMethodField()

    def get_distance_m(self, report: Report) -> int:
        return round(report.distance.m)


class CrewTicketSerializer(serializers.Serializer):
    """A ticket as its crew sees it: no reporter contact data, but the full history."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    description = serializers.CharField()
    district_name = serializers.CharField(source="district.name", default=None)
    address = serializers.CharField()
    lat = serializers.FloatField(source="location.y")
    lon = serializers.FloatField(source="location.x")
    due_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    confirmations_count = serializers.IntegerField()
    crew = serializers.SerializerMethodField()
    photos = CrewPhotoSerializer(source="all_photos", many=True)
    history = CrewEventSerializer(many=True)
    flags = CrewFlagSerializer(source="open_flags", many=True)
    duplicate_candidates = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_crew(self, report: Report) -> str | None:
        active = report.active_assignments
        return active[0].crew.code if active else None

    @extend_schema_field(DuplicateCandidateSerializer(many=True))
    def get_duplicate_candidates(self, report: Report) -> list[dict]:
        candidates = self.context.get("duplicate_candidates", [])
        return DuplicateCandidateSerializer(candidates, many=True).data


class CrewActionInputSerializer(serializers.Serializer):
    expected_version = serializers.IntegerField(
        min_value=1, help_text="the ticket version the member saw; a stale one answers 409"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CrewCloseInputSerializer(CrewActionInputSerializer):
    photo = serializers.FileField(help_text="the after-photo (required)")


class CrewRejectInputSerializer(CrewActionInputSerializer):
    reason = serializers.ChoiceField(choices=[(k, str(v)) for k, v in REJECT_REASONS.items()])


class CrewDuplicateInputSerializer(CrewActionInputSerializer):
    duplicate_of = serializers.IntegerField(help_text="an open ticket within 50 m")


class CrewActionResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    replayed = serializers.BooleanField(help_text="true when an Idempotency-Key was seen before")


class CrewConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current = serializers.DictField()


class PlanStopSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    id = serializers.IntegerField(source="ticket.key")
    lat = serializers.FloatField(source="ticket.location.y")
    lon = serializers.FloatField(source="ticket.location.x")
    due_at = serializers.DateTimeField(source="ticket.due_at")
    arrival = serializers.DateTimeField()
    late = serializers.BooleanField()
    metres_from_previous = serializers.IntegerField()


class PlanProgressSerializer(serializers.Serializer):
    crew = serializers.CharField()
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    progress = serializers.IntegerField(help_text="percent")
    open_tickets = serializers.IntegerField(help_text="open tickets in the queue when planned")
    max_tickets = serializers.IntegerField(help_text="at most this many stops a day")
    planned_at = serializers.DateTimeField(allow_null=True)


class PlanSerializer(PlanProgressSerializer):
    depot = serializers.SerializerMethodField()
    start = serializers.DateTimeField()
    back_at = serializers.DateTimeField()
    total_metres = serializers.IntegerField()
    late_count = serializers.IntegerField()
    stops = PlanStopSerializer(many=True)

    @extend_schema_field(serializers.ListField(child=serializers.FloatField()))
    def get_depot(self, plan) -> list[float]:
        return [plan.depot.y, plan.depot.x]
