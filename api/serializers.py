from django.urls import reverse
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from districts.models import District
from reports.models import Category, Report, ReportPhoto


class CategorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)

    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "name_de",
            "name_en",
            "description",
            "icon",
            "group",
            "deadline_unit",
            "deadline_amount",
            "photo_required",
            "attributes",
        ]


class DistrictSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = District
        geo_field = "boundary"
        id_field = "code"
        fields = ["code", "name", "kind", "parent_name"]


class PhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportPhoto
        fields = ["kind", "url", "thumbnail_url", "width", "height"]

    def _absolute(self, field) -> str | None:
        if not field:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(field.url) if request else field.url

    def get_url(self, photo: ReportPhoto) -> str | None:
        return self._absolute(photo.public_image)

    def get_thumbnail_url(self, photo: ReportPhoto) -> str | None:
        return self._absolute(photo.thumbnail)


HIDDEN_BY_CITY = "hidden by the city"


class ReportSerializer(GeoFeatureModelSerializer):
    """Public view of a report: never any reporter contact data; the public point (coarse for
    sensitive categories); a description or photos staff hid are replaced by a notice."""

    category = serializers.CharField(source="category.code")
    description = serializers.CharField(source="public_description", read_only=True)
    description_hidden = serializers.SerializerMethodField()
    location_coarse_m = serializers.IntegerField(source="category.public_grid_m", read_only=True)
    photos_hidden = serializers.SerializerMethodField()
    category_name = serializers.CharField(source="category.name")
    district = serializers.CharField(source="district.code", allow_null=True, default=None)
    district_name = serializers.CharField(source="district.name", allow_null=True, default=None)
    crew = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        geo_field = "public_location"
        fields = [
            "id",
            "category",
            "category_name",
            "status",
            "description",
            "description_hidden",
            "location_coarse_m",
            "district",
            "district_name",
            "crew",
            "due_at",
            "confirmations_count",
            "created_at",
            "updated_at",
            "closed_at",
            "photos",
            "photos_hidden",
            "url",
        ]

    def get_description_hidden(self, report: Report) -> str | None:
        """ "hidden by the city" when staff hid the text, else null."""
        return HIDDEN_BY_CITY if report.description_hidden_reason else None

    def get_photos_hidden(self, report: Report) -> int:
        """How many photos staff hid (shown as "hidden by the city")."""
        count = getattr(report, "hidden_photos", None)
        return count if count is not None else report.photos.exclude(hidden_reason="").count()

    def get_crew(self, report: Report) -> str | None:
        active = getattr(report, "active_assignments", None)
        if active is None:
            active = [a for a in report.assignments.all() if a.active]
        return active[0].crew.name if active else None

    def get_photos(self, report: Report) -> list[dict]:
        photos = getattr(report, "public_photos", None)
        if photos is None:
            photos = report.photos.filter(state=ReportPhoto.State.READY, hidden_reason="")
        return PhotoSerializer(photos, many=True, context=self.context).data

    def get_url(self, report: Report) -> str:
        return reverse("api:report-detail", args=[report.pk])


class ReportCreatedSerializer(ReportSerializer):
    """What the submitter gets back once: the public view plus the secret tracking link."""

    tracking_token = serializers.CharField(read_only=True)
    moderation = serializers.CharField(read_only=True)

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "tracking_token", "moderation"]


class ReportInputSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=64, help_text="category code, see /categories/")
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    photo = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), required=False, default=list
    )
    website = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="honeypot: leave empty (a filled value refuses the submission)",
    )

    def validate(self, data: dict) -> dict:
        if ("lat" in data) != ("lon" in data):
            raise serializers.ValidationError({"location": "Give both lat and lon, or neither."})
        return data


class ReportFlagInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RouteQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    category = serializers.CharField(max_length=64)


class RouteSerializer(serializers.Serializer):
    district = serializers.DictField(allow_null=True)
    crew = serializers.DictField(allow_null=True)
    due_at = serializers.DateTimeField()
    unassigned = serializers.BooleanField()
    # The nearest address within about 50 m, else the street, else the district.
    place = serializers.CharField(allow_blank=True)
