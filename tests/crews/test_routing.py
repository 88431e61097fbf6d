from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError

from crews.models import Assignment
from crews.selectors import assignment_history, crew_for, route_compute
from crews.services import assignment_reassign, report_dispatch
from districts.models import District
from reports.models import Category, Report, ReportEvent
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.factories import CategoryFactory, CrewFactory, ResponsibilityFactory, UserFactory

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def test_neustadt_litter_goes_to_crew_nord_with_a_deadline():
    litter = Category.objects.get(code="litter")
    route = route_compute(
        point=NEUSTADT_POINT, category=litter, now=datetime(2026, 11, 20, 10, tzinfo=BERLIN)
    )
    assert route.district.code == "neustadt"
    assert route.crew.code == "nord"
    assert route.due_at == datetime(2026, 11, 25, 23, 59, 59, tzinfo=BERLIN)


def test_crew_named_for_the_category_beats_the_district_crew():
    bulky = Category.objects.get(code="bulky_waste")
    assert (
        crew_for(district=District.objects.get(code="neustadt"), category=bulky).code
        == "sperrmuell"
    )


def test_fewest_open_assignments_wins_and_ties_break_by_code(squares):
    west, _east = squares
    category = CategoryFactory(code="sq")
    busy = CrewFactory(code="a-busy")
    idle = CrewFactory(code="b-idle")
    for crew in (busy, idle):
        ResponsibilityFactory(crew=crew, district=west, category=category)
    # Tie: both have no open work, so the lower code wins.
    assert crew_for(district=west, category=category) == busy
    report, _ = report_create(category=category, location=Point(0.5, 0.5, srid=4326))
    report_dispatch(report=report)
    assert report.assignments.get().crew == busy
    assert crew_for(district=west, category=category) == idle


def test_district_without_crew_keeps_report_unassigned_and_visible():
    oberwartha = District.objects.get(code="oberwartha")
    point = oberwartha.boundary.point_on_surface
    report, _ = report_create(category="litter", location=point, description="Müll am Wald")
    route = report_dispatch(report=report)
    report.refresh_from_db()
    assert route.crew is None
    assert report.status == Report.Status.NEW
    assert report.district == oberwartha
    assert report.due_at is not None
    assert not report.assignments.exists()
    assert report.events.filter(kind=ReportEvent.Kind.UNASSIGNED).exists()
    assert Report.objects.open().filter(pk=report.pk).exists()


def test_dispatch_stores_deadline_on_assignment_and_report():
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    route = report_dispatch(report=report)
    report.refresh_from_db()
    assignment = report.assignments.get(active=True)
    assert assignment.due_at == route.due_at == report.due_at
    assert report.status == Report.Status.ASSIGNED


def test_reassignment_keeps_the_old_assignment_in_history():
    dispatcher = UserFactory(username="disp")
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=report)
    first = report.assignments.get(active=True)
    mitte = first.crew.__class__.objects.get(code="mitte")
    with pytest.raises(ValidationError, match="needs a reason"):
        assignment_reassign(report=report, crew=mitte, actor=dispatcher, reason=" ")
    assignment_reassign(report=report, crew=mitte, actor=dispatcher, reason="Nord überlastet")
    history = list(assignment_history(report=report))
    assert [(a.crew.code, a.active) for a in history] == [("nord", False), ("mitte", True)]
    assert history[1].due_at == first.due_at
    assert history[1].reason == "Nord überlastet"
    assert Assignment.objects.filter(report=report, active=True).count() == 1
    event = report.events.get(kind=ReportEvent.Kind.REASSIGNED)
    assert event.actor == dispatcher and event.data["from_crew"] == "nord"
