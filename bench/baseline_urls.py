"""B9 baseline: the textbook DRF API for the same rows: a ModelSerializer (the same fields as
the app's map feature), a list of 50 with keyset pagination (`before=<id>`, newest first) and a
detail view."""

from django.urls import path
from rest_framework import generics, serializers

from reports.models import Report


class ReportModelSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")
    district = serializers.CharField(source="district.code", allow_null=True, default=None)

    class Meta:
        model = Report
        fields = [
            "id",
            "public_location",
            "category",
            "status",
            "district",
            "priority",
            "confirmations_count",
            "due_at",
            "created_at",
            "updated_at",
            "closed_at",
        ]


class ReportList(generics.ListAPIView):
    serializer_class = ReportModelSerializer
    pagination_class = None

    def get_queryset(self):
        reports = Report.objects.published().select_related("category", "district").order_by("-id")
        before = self.request.query_params.get("before")
        if before:
            reports = reports.filter(id__lt=int(before))
        return reports[:50]


class ReportDetail(generics.RetrieveAPIView):
    serializer_class = ReportModelSerializer
    queryset = Report.objects.published().select_related("category", "district")


urlpatterns = [
    path("reports/", ReportList.as_view()),
    path("reports/<int:pk>/", ReportDetail.as_view()),
]
