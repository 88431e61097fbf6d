import math

import django_filters
from django.contrib.gis.geos import GEOSException, Polygon
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework_gis.filters import InBBoxFilter

from reports.models import Report


class BBoxFilter(InBBoxFilter):
    """`?bbox=minlon,minlat,maxlon,maxlat` on views that set `bbox_filter_field`."""

    bbox_param = "bbox"

    def get_filter_bbox(self, request):
        raw = request.query_params.get(self.bbox_param)
        if not raw:
            return None
        # float() reads "nan" and "inf" too, which GEOS and PostGIS cannot take (was a 500).
        message = _("bbox needs four finite numbers: minlon,minlat,maxlon,maxlat.")
        try:
            values = [float(v) for v in raw.split(",")]
        except ValueError:
            raise ParseError(message) from None
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ParseError(message)
        try:
            box = Polygon.from_bbox(values)
        except GEOSException:
            raise ParseError(message) from None
        box.srid = 4326
        return box


class ReportFilter(django_filters.FilterSet):
    status = django_filters.BaseInFilter(field_name="status", help_text="comma-separated")
    category = django_filters.CharFilter(field_name="category__code")
    district = django_filters.CharFilter(field_name="district__code")

    class Meta:
        model = Report
        fields = ["status", "category", "district"]
