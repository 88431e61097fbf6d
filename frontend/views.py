from django.conf import settings
from django.shortcuts import render

from districts.selectors import districts_geojson
from frontend.maps import reports_map
from reports.selectors import report_list


def home(request):
    reports = list(report_list(status=["new", "assigned", "in_progress"])[:2000])
    return render(
        request,
        "frontend/home.html",
        {
            "map": reports_map(reports=reports, districts_geojson=districts_geojson()),
            "reports": reports,
            "data_attribution": settings.DATA_ATTRIBUTION,
        },
    )
