import pytest
from django.contrib.gis.geos import Point

from crews.services import report_dispatch
from reports.services import report_create

pytestmark = pytest.mark.browser


def test_public_map_shows_districts_reports_and_attribution_without_third_parties(
    dresden_committed, live_server, page_factory
):
    report, _ = report_create(
        category="litter", location=Point(13.7535, 51.0655, srid=4326), description="Müll"
    )
    report_dispatch(report=report)
    page = page_factory(viewport={"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.wait_for_selector(".leaflet-container")
    # 19 district outlines plus at least one report marker are drawn as SVG paths.
    page.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path').length >= 20")
    assert "opendata.dresden.de" in page.inner_text(".leaflet-control-attribution")
    assert "Datenlizenz Deutschland" in page.inner_text("footer")
    assert f"#{report.pk}" in page.inner_text("main")
    assert page.request_log.third_party() == []
