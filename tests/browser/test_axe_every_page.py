"""axe-core (vendored, tests/browser/vendor/) on every page, as each of its users sees it: the
public and resident pages on a phone and a desktop, the crew's on a tablet, the dispatcher's and
staff's on a desktop. No serious and no critical finding anywhere."""

import contextlib
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import report_create, report_flag_add, report_transition
from tests.browser.test_resident_pages import ALTSTADT, NEUSTADT, PHONE, axe_serious
from tests.conftest import jpeg_bytes, upload
from tests.events.helpers import make_event

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1440, "height": 900}}
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}


def _report(at: tuple[float, float], **fields) -> Report:
    report, _ = report_create(category="litter", location=Point(at[1], at[0], srid=4326), **fields)
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


@pytest.fixture
def city(dresden_committed):
    """A little of everything the pages show: a report with a photo and a flag, one close to it
    (a merge candidate), a cleared one (the tracking page's "not fixed" form), an event."""
    flagged = _report(
        NEUSTADT,
        description="Müll am Zaun",
        email="a@example.org",
        photos=[upload(jpeg_bytes())],
    )
    report_flag_add(report=flagged, kind=ReportFlag.Kind.REOPENED, reason="Noch da")
    near = _report((NEUSTADT[0] + 0.0002, NEUSTADT[1]))
    cleared = report_transition(report=_report(ALTSTADT), to=Report.Status.CLEARED, note="Weg")
    event = make_event(
        title="Flohmarkt im Alaunpark",
        start=timezone.now() + timedelta(days=2),
        location=Point(13.7574, 51.0684, srid=4326),
        category="market",
    )
    return {"flagged": flagged, "near": near, "cleared": cleared, "event": event}


def _findings(page, base: str, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page.goto(base + path)
        _settled(page)
        found[path] = axe_serious(page)
    return {path: items for path, items in found.items() if items}


def _settled(page) -> None:
    """Maps and lists filled in; pages that keep asking (the crew's plan polls while a plan is
    made, the tablet loads its tickets for offline use) get a few seconds."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=5000)


def _log_in(page, base: str, login_path: str, username: str) -> None:
    page.goto(base + login_path)
    page.fill("#id_username", username)
    page.fill("#id_password", "civicmap-demo")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_public_and_resident_pages(city, live_server, page_factory, device):
    page = page_factory(**device)
    paths = [
        "/",
        "/report/new/",
        f"/reports/{city['flagged'].pk}/",
        f"/r/{city['cleared'].tracking_token}/",
        "/events/",
        "/events/?q=Flohmarkt",
        f"/events/{city['event'].pk}/",
        "/accounts/login/",
        "/dispatch/login/",
    ]
    assert _findings(page, live_server.url, paths) == {}


def test_crew_pages_on_a_tablet(city, live_server, page_factory):
    page = page_factory(**TABLET)
    _log_in(page, live_server.url, "/crew/", "crew-nord")
    paths = ["/crew/", f"/crew/tickets/{city['flagged'].pk}/", "/crew/plan/"]
    assert _findings(page, live_server.url, paths) == {}


def test_dispatcher_pages(city, live_server, page_factory):
    page = page_factory(**DESKTOP)
    _log_in(page, live_server.url, "/dispatch/login/", "dispatcher")
    paths = [
        "/dispatch/",
        f"/dispatch/reports/{city['flagged'].pk}/",
        f"/dispatch/reports/{city['cleared'].pk}/",
        "/dispatch/stats/",
        "/dispatch/hotspots/",
    ]
    assert _findings(page, live_server.url, paths) == {}


def test_staff_pages(city, live_server, page_factory):
    page = page_factory(**DESKTOP)
    _log_in(page, live_server.url, "/dispatch/login/", "admin")
    photo = city["flagged"].photos.first()
    paths = [
        "/staff/",
        f"/staff/reports/{city['flagged'].pk}/",
        f"/staff/photos/{photo.pk}/",
        "/staff/personal-data/",
    ]
    assert _findings(page, live_server.url, paths) == {}
