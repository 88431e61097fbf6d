from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.utils import timezone

from crews.models import Assignment
from crews.queue import crew_queue, crew_ticket_get, duplicate_candidates
from crews.services import report_dispatch
from districts.models import Address
from reports.models import Report
from reports.services import report_create, report_transition
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db


def _ticket(category: str = "litter", dx: float = 0.0, due_in: timedelta | None = None) -> Report:
    point = Point(NEUSTADT_POINT.x + dx, NEUSTADT_POINT.y, srid=4326)
    report, _ = report_create(category=category, location=point)
    report_dispatch(report=report)
    if due_in is not None:
        Assignment.objects.filter(report=report).update(due_at=timezone.now() + due_in)
    report.refresh_from_db()
    return report


def _ids(rows) -> list[int]:
    return [row.report_id for row in rows]


def test_late_tickets_first_then_by_due_date_and_only_open_ones_of_my_crews():
    soon = _ticket(due_in=timedelta(hours=2))
    later = _ticket(due_in=timedelta(days=2))
    late_a_bit = _ticket(due_in=timedelta(hours=-1))
    very_late = _ticket(due_in=timedelta(days=-3))
    done = _ticket(due_in=timedelta(hours=1))
    report_transition(report=done, to=Report.Status.CLEARED, note="ok")
    other_crew = _ticket(category="graffiti")  # the graffiti team's, not crew-nord's
    nord = User.objects.get(username="crew-nord")
    rows = list(crew_queue(user=nord, now=timezone.now()))
    assert _ids(rows) == [very_late.pk, late_a_bit.pk, soon.pk, later.pk]
    assert [row.is_late for row in rows] == [True, True, False, False]
    graffiti = User.objects.get(username="crew-graffiti")
    assert _ids(crew_queue(user=graffiti, now=timezone.now())) == [other_crew.pk]


def test_filters_by_category_status_and_crew():
    litter = _ticket(due_in=timedelta(hours=3))
    glass = _ticket(category="glass", due_in=timedelta(hours=4))
    report_transition(report=glass, to=Report.Status.IN_PROGRESS)
    nord = User.objects.get(username="crew-nord")
    now = timezone.now()
    assert _ids(crew_queue(user=nord, now=now, category="glass")) == [glass.pk]
    assert _ids(crew_queue(user=nord, now=now, status="assigned")) == [litter.pk]
    assert _ids(crew_queue(user=nord, now=now, crew="nord")) == [litter.pk, glass.pk]
    assert _ids(crew_queue(user=nord, now=now, crew="mitte")) == []


def test_distance_from_the_tablet_is_measured_in_metres():
    ticket = _ticket(dx=0.01)  # about 700 m east at this latitude
    nord = User.objects.get(username="crew-nord")
    row = crew_queue(user=nord, now=timezone.now(), position=NEUSTADT_POINT).get()
    assert row.report_id == ticket.pk
    assert row.distance.m == pytest.approx(700, rel=0.01)


def test_rows_without_an_address_name_the_nearest_street_within_about_100_m():
    ticket = _ticket()
    Address.objects.create(
        street="Alaunstraße", house_number="1", location=Point(13.7545, 51.0655, srid=4326)
    )
    Address.objects.create(
        street="Louisenstraße", house_number="2", location=Point(13.7540, 51.0655, srid=4326)
    )
    Address.objects.create(
        street="Fernstraße", house_number="3", location=Point(13.7700, 51.0655, srid=4326)
    )
    nord = User.objects.get(username="crew-nord")
    row = crew_queue(user=nord, now=timezone.now()).get()
    assert row.report_id == ticket.pk and row.nearest_street == "Louisenstraße"
    Address.objects.exclude(street="Fernstraße").delete()
    assert crew_queue(user=nord, now=timezone.now()).get().nearest_street is None


def test_a_ticket_of_another_crew_is_invisible():
    ticket = _ticket()
    assert crew_ticket_get(user=User.objects.get(username="crew-nord"), report_id=ticket.pk)
    assert (
        crew_ticket_get(user=User.objects.get(username="crew-mitte"), report_id=ticket.pk) is None
    )


def test_duplicate_candidates_are_open_tickets_within_50_m_nearest_first():
    ticket = _ticket()
    at_40 = _ticket(dx=0.00057)
    at_20 = _ticket(dx=0.00028)
    _ticket(dx=0.0009)  # about 63 m
    closed = _ticket(dx=0.0001)
    report_transition(report=closed, to=Report.Status.CLEARED, note="ok")
    assert [r.pk for r in duplicate_candidates(report=ticket)] == [at_20.pk, at_40.pk]
