import django_filters
from rest_framework_gis.filters import InBBoxFilter

from reports.models import Report


class BBoxFilter(InBBoxFilter):
    """`?bbox=minlon,minlat,maxlon,maxlat` on views that set `bbox_filter_field`."""

    bbox_param = "bbox"


class ReportFilter(django_filters.FilterSet):
    status = django_filters.BaseInFilter(field_name="status", help_text="comma-separated")
    category = django_filters.CharFilter(field_name="category__code")
    district = django_filters.CharFilter(field_name="district__code")

    class Meta:
        model = Report
        fields = ["status", "category", "district"]
