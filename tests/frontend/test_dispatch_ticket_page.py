"""The dispatcher's ticket page: what needs attention and what to do, clearing with history, a
map with the open tickets within 50 m, and merging by choosing one of them."""

import re

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from rest_framework.test import APIClient

from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import report_create, report_flag_add
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db


def _ticket(north_m: float = 0, **kwargs) -> Report:
    point = Point(NEUSTADT_POINT.x, NEUSTADT_POINT.y + north_m / 111_195, srid=4326)
    report, _ = report_create(category="litter", location=point, **kwargs)
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_flag_shows_with_what_to_do_and_clearing_it_is_history(dispatcher):
    report = _ticket()
    flag = report_flag_add(
        report=report, kind=ReportFlag.Kind.REOPENED, reason="Der Müll liegt noch da"
    )
    client = _client(dispatcher)
    page = client.get(f"/dispatch/reports/{report.pk}/").content.decode()
    box = page[page.index('class="needs-attention"') :]
    assert "reopened by the resident" in box and "Der Müll liegt noch da" in box
    assert "Read the note and look at the new photo" in box  # what to do
    assert "New ticket" in box and "Mark as seen" in box  # received just now
    answer = client.post(
        f"/dispatch/reports/{report.pk}/flags/clear/", {"flag": flag.pk, "note": "Crew informiert"}
    )
    assert answer.status_code == 302
    flag.refresh_from_db()
    assert flag.resolved_at is not None and flag.resolved_by == dispatcher
    page = client.get(answer.url).content.decode()
    history = page[page.index('class="event-list"') :]
    assert "Crew informiert" in history and "flag cleared: reopened by the resident" in history
    assert 'data-flag="reopened"' not in page
    client.post(f"/dispatch/reports/{report.pk}/seen/")
    page = client.get(f"/dispatch/reports/{report.pk}/").content.decode()
    assert 'class="needs-attention"' not in page


def test_clearing_an_unknown_flag_says_so_and_changes_nothing(dispatcher):
    report = _ticket()
    client = _client(dispatcher)
    answer = client.post(f"/dispatch/reports/{report.pk}/flags/clear/", {"flag": "x"}, follow=True)
    assert answer.status_code == 200
    assert "Choose the flag to clear." in answer.content.decode()
    answer = client.post(f"/dispatch/reports/{report.pk}/flags/clear/", {"flag": 999999})
    assert answer.status_code == 302


def test_merge_offers_the_open_tickets_within_50_m_on_a_map_and_merges_the_chosen_one(
    dispatcher,
):
    report = _ticket(description="Sperrmüll")
    near = _ticket(north_m=30)
    far = _ticket(north_m=80)
    client = _client(dispatcher)
    page = client.get(f"/dispatch/reports/{report.pk}/").content.decode()
    merge = page[page.index('id="merge-form"') :]
    merge = merge[: merge.index("</form>")]
    offered = re.findall(r'name="into" value="(\d+)"', merge)
    assert offered == [str(near.pk)]
    assert "30 m" in merge and str(far.pk) not in offered
    # The map shows this ticket and the one nearby (markers drawn by the page's own Leaflet).
    assert "this-ticket-marker" in page and f"nearby-{near.pk}" in page
    assert f"nearby-{far.pk}" not in page
    assert "unpkg.com" not in page and "cdn.jsdelivr" not in page
    client.post(f"/dispatch/reports/{report.pk}/merge/", {"into": near.pk})
    report.refresh_from_db()
    assert report.status == Report.Status.DUPLICATE and report.duplicate_of_id == near.pk


def test_api_clears_a_flag_and_marks_seen(dispatcher):
    report = _ticket()
    flag = report_flag_add(report=report, kind=ReportFlag.Kind.AFTER_PHOTO, reason="900 m")
    api = APIClient()
    api.force_authenticate(dispatcher)
    answer = api.post(f"/api/v1/dispatch/tickets/{report.pk}/flags/clear/", {"flag": flag.pk})
    assert answer.status_code == 200 and answer.json()["id"] == report.pk
    assert not report.flags.filter(resolved_at__isnull=True).exists()
    again = api.post(f"/api/v1/dispatch/tickets/{report.pk}/flags/clear/", {"flag": flag.pk})
    assert again.status_code == 400
    assert api.post(f"/api/v1/dispatch/tickets/{report.pk}/seen/").status_code == 200
    feature = api.get("/api/v1/dispatch/tickets/").json()["features"][0]["properties"]
    assert feature["new"] is False and feature["flags"] == []
