"""One submission service for every entry point: stored, routed and flagged in one transaction."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from api.open311.keys import client_create
from crews import services as crew_services
from reports.models import Report, ReportEvent, ReportFlag
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.events.helpers import make_event, north_of

pytestmark = pytest.mark.django_db

ALAUNPARK = Point(13.75735, 51.06835, srid=4326)


def test_a_submission_is_stored_routed_and_due_at_once():
    report, created = crew_services.report_submit(category="litter", location=NEUSTADT_POINT)
    assert created
    assert report.status == Report.Status.ASSIGNED and report.due_at is not None
    assert report.assignments.get(active=True).crew.code
    assert report.district.name


def test_if_routing_fails_nothing_is_stored(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("routing failed")

    monkeypatch.setattr(crew_services, "report_dispatch", broken)
    before = Report.objects.count()
    with pytest.raises(RuntimeError):
        crew_services.report_submit(
            category="litter", location=NEUSTADT_POINT, idempotency_key="k-1"
        )
    assert Report.objects.count() == before


def test_the_district_is_looked_up_once_per_submission(monkeypatch):
    import crews.selectors
    import reports.services.lifecycle

    calls = []
    for module in (reports.services.lifecycle, crews.selectors):
        original = module.district_for_point

        def counting(*, point, _original=original):
            calls.append(point)
            return _original(point=point)

        monkeypatch.setattr(module, "district_for_point", counting)
    crew_services.report_submit(category="litter", location=NEUSTADT_POINT)
    assert len(calls) == 1


def test_a_retry_returns_the_routed_report_and_routes_one_left_unrouted():
    first, created = crew_services.report_submit(
        category="litter", location=NEUSTADT_POINT, idempotency_key="same"
    )
    again, created_again = crew_services.report_submit(
        category="litter", location=NEUSTADT_POINT, idempotency_key="same"
    )
    assert created and not created_again and again.pk == first.pk
    assert again.status == Report.Status.ASSIGNED and again.due_at == first.due_at
    # A report stored but never routed (an older, interrupted submission): the retry routes it.
    stored, _ = report_create(category="litter", location=NEUSTADT_POINT, idempotency_key="old")
    assert stored.due_at is None
    retried, created = crew_services.report_submit(
        category="litter", location=NEUSTADT_POINT, idempotency_key="old"
    )
    assert not created and retried.pk == stored.pk
    assert retried.status == Report.Status.ASSIGNED and retried.due_at is not None
    assert retried.events.filter(kind=ReportEvent.Kind.ASSIGNED).count() == 1


def test_open311_submissions_are_flagged_near_a_booked_pickup_too(client):
    tomorrow = timezone.localtime() + timedelta(days=1)
    make_event(start=tomorrow.replace(hour=7, minute=0), location=ALAUNPARK)
    point = north_of(ALAUNPARK, 20)
    key = client_create(name="Test client", contact="it@example.org")[1]
    response = client.post(
        "/open311/v2/requests.json",
        {
            "api_key": key,
            "service_code": "bulky_waste",
            "lat": f"{point.y:.7f}",
            "long": f"{point.x:.7f}",
            "media_url": "https://example.org/sofa.jpg",
        },
    )
    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=response.json()[0]["service_request_id"])
    assert report.flags.filter(kind=ReportFlag.Kind.BOOKED_PICKUP).exists()
    assert report.status == Report.Status.ASSIGNED
