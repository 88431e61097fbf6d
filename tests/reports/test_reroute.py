"""Re-routing every report after new district boundaries (reports_reroute)."""

import random
from io import StringIO

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.management import call_command

from districts.models import District
from districts.selectors import district_for_point
from reports.models import Category, Report
from reports.services import report_create, reports_reroute
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db

FRAUENKIRCHE = Point(13.7416, 51.0519, srid=4326)
GROSSER_GARTEN = Point(13.765, 51.0375, srid=4326)


def _report(point: Point) -> Report:
    report, _ = report_create(category="litter", location=point, description="Müll")
    return report


def _border_point() -> Point:
    altstadt = District.objects.get(code="altstadt").boundary
    neustadt = District.objects.get(code="neustadt").boundary
    return altstadt.intersection(neustadt).point_on_surface


def _district_codes(reports: list[Report]) -> list[str | None]:
    rows = dict(
        Report.objects.filter(pk__in=[r.pk for r in reports]).values_list("pk", "district__code")
    )
    return [rows[r.pk] for r in reports]


def test_nothing_moves_while_the_boundaries_stay():
    reports = [_report(p) for p in (FRAUENKIRCHE, NEUSTADT_POINT, _border_point())]
    assert _district_codes(reports) == ["altstadt", "neustadt", "altstadt"]
    assert reports_reroute() == []
    assert _district_codes(reports) == ["altstadt", "neustadt", "altstadt"]


def test_new_boundaries_move_exactly_the_reports_they_concern():
    frauenkirche, neustadt, garten, border = (
        _report(p) for p in (FRAUENKIRCHE, NEUSTADT_POINT, GROSSER_GARTEN, _border_point())
    )
    stale = _report(NEUSTADT_POINT)
    Report.objects.filter(pk=stale.pk).update(district=None)
    versions = dict(Report.objects.values_list("pk", "version"))
    # Altstadt shrinks to a square in the Großer Garten: the Frauenkirche lies in no district
    # now, and the border point belongs to Neustadt alone.
    altstadt = District.objects.get(code="altstadt")
    altstadt.boundary = MultiPolygon(Polygon.from_bbox((13.76, 51.035, 13.77, 51.04)), srid=4326)
    altstadt.save()

    moved = reports_reroute()

    assert moved == sorted([frauenkirche.pk, border.pk, stale.pk])
    reports = [frauenkirche, neustadt, garten, border, stale]
    assert _district_codes(reports) == [None, "neustadt", "altstadt", "neustadt", "neustadt"]
    for report in Report.objects.filter(pk__in=[r.pk for r in reports]):
        expected = district_for_point(point=report.location)
        assert report.district_id == (expected.pk if expected else None)
        assert report.version == versions[report.pk] + (1 if report.pk in moved else 0)
    assert reports_reroute() == []


def test_a_report_on_a_shared_border_goes_to_the_first_code():
    border = _report(_border_point())
    Report.objects.filter(pk=border.pk).update(district=District.objects.get(code="neustadt"))
    assert reports_reroute() == [border.pk]
    assert _district_codes([border]) == ["altstadt"]


def test_command_reports_how_many_moved():
    report = _report(FRAUENKIRCHE)
    Report.objects.filter(pk=report.pk).update(district=None)
    out = StringIO()
    call_command("reports_reroute", stdout=out)
    assert out.getvalue().startswith("1 reports would move to another district.")
    assert _district_codes([report]) == [None]  # a dry run writes nothing
    out = StringIO()
    call_command("reports_reroute", "--commit", stdout=out)
    assert out.getvalue().strip() == "1 reports moved to another district."
    assert _district_codes([report]) == ["altstadt"]


def test_every_report_gets_the_full_polygon_answer_after_a_change():
    """Many random reports over Dresden (some outside, some on borders and on grid-cell edges):
    after a boundary change, each has the district the full polygons give (covers, first code)."""
    rng = random.Random(8)
    category = Category.objects.get(code="litter")
    points = [
        Point(rng.uniform(13.57, 13.97), rng.uniform(50.96, 51.18), srid=4326) for _ in range(400)
    ]
    points += [_border_point(), Point(13.75, 51.05, srid=4326), Point(13.7416, 51.06, srid=4326)]
    Report.objects.bulk_create(
        [Report(category=category, location=p, public_location=p, district=None) for p in points]
    )
    neustadt = District.objects.get(code="neustadt")
    neustadt.boundary = MultiPolygon(
        Polygon.from_bbox((13.70, 51.03, 13.80, 51.10)), srid=4326
    )  # overlaps its neighbours now: points there are covered twice
    neustadt.save()

    moved = reports_reroute()

    # All started without a district: exactly those now in one moved.
    assert moved == sorted(
        Report.objects.filter(district__isnull=False).values_list("pk", flat=True)
    )
    assert len(moved) > 150
    for report in Report.objects.all():
        full = District.objects.filter(boundary__covers=report.location).order_by("code").first()
        assert report.district_id == (full.pk if full else None), report.location.coords
    assert reports_reroute() == []


def test_a_point_on_a_grid_line_and_a_border_goes_to_the_first_code(squares):
    west, east = squares
    category = Category.objects.get(code="litter")
    on_both = Point(1, 0.5, srid=4326)  # the squares' border, and a grid-cell edge
    report = Report.objects.create(
        category=category, location=on_both, public_location=on_both, district=east
    )
    assert reports_reroute() == [report.pk]
    report.refresh_from_db()
    assert report.district == west == district_for_point(point=on_both)
