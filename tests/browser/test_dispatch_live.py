"""The dispatcher map under a real ASGI server (uvicorn): push within 2 s, polling within 15 s."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from crews.models import DISPATCHER_GROUP, Assignment
from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import report_create, report_reopen_by_resident, report_transition
from tests.browser.test_resident_pages import axe_serious
from tests.conftest import NEUSTADT_POINT, TEST_BROKER_URL, database_url_for_subprocess
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, tmp_path_factory):
    """uvicorn serving the app against the test database (one per module: it holds no data)."""
    tmp_path = tmp_path_factory.mktemp("asgi")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicmap.settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "LIVE_REDIS_URL": TEST_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "MEDIA_ROOT": str(tmp_path),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Served like in production (whitenoise from STATIC_ROOT), from this checkout's files.
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "civicmap.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            "1",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn died:\n{process.communicate()[0]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("uvicorn did not start within 30 s")
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def dispatcher_page(browser, asgi_server, dresden_committed, settings):
    # Publisher (this test process) and the server use the same Redis and channel; the channel
    # is named after the (test) database, so parallel runs do not see each other.
    settings.LIVE_REDIS_URL = TEST_BROKER_URL
    user = UserFactory(username="live-dispatcher")
    user.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        locale="de-DE", viewport={"width": 1400, "height": 900}, bypass_csp=True
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": asgi_server,
            }
        ]
    )
    context.route("**/tile.openstreetmap.org/**", lambda route: route.abort())
    yield context
    context.close()


def _submit(server: str) -> int:
    """A resident's phone submits a report through the public API of the running server."""
    data = urlencode(
        {"category": "litter", "lat": "51.0655", "lon": "13.7535", "description": "Neu"}
    ).encode()
    url = f"{server}/api/v1/reports/"
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - local server
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        return json.loads(response.read())["id"]


def test_new_ticket_reaches_an_open_map_by_push_within_two_seconds(asgi_server, dispatcher_page):
    page = dispatcher_page.new_page()
    page.goto(asgi_server + "/dispatch/")
    page.wait_for_selector("#live-status[data-mode='push']", timeout=10_000)
    page.wait_for_function("document.getElementById('dispatch-app').dataset.refreshedAt")
    before = int(page.inner_text("#count-on_time"))
    layer_downloads = []
    page.on("request", lambda r: "/dispatch/tickets" in r.url and layer_downloads.append(r.url))

    started = time.monotonic()
    report_id = _submit(asgi_server)
    remaining = 2000 - (time.monotonic() - started) * 1000
    # Routed to crew Nord with days to go: on time (green).
    page.wait_for_selector(
        f"path.ticket-{report_id}.state-on_time", state="attached", timeout=remaining
    )
    assert time.monotonic() - started <= 2.0
    assert int(page.inner_text("#count-on_time")) == before + 1
    # The push carried the ticket's feature: no download of every open ticket again.
    assert layer_downloads == []
    # District outlines and crew depots are on the map too.
    assert page.locator(".depot-icon").count() >= 7
    assert page.locator(".leaflet-overlay-pane path").count() >= 19 + 1


def test_without_the_push_channel_the_map_polls_and_shows_it_within_15_seconds(
    asgi_server, dispatcher_page
):
    dispatcher_page.route("**/dispatch/live/**", lambda route: route.abort())
    page = dispatcher_page.new_page()
    page.goto(asgi_server + "/dispatch/")
    page.wait_for_selector("#live-status[data-mode='polling']", timeout=10_000)
    page.wait_for_function("document.getElementById('dispatch-app').dataset.refreshedAt")

    # Right after a poll: the worst case, the ticket waits for the whole next interval.
    assert page.inner_text("#live-status").endswith("12 s")
    report_id = _submit(asgi_server)
    committed = time.monotonic()  # the report was stored before the API answered
    page.wait_for_selector(f"path.ticket-{report_id}", state="attached", timeout=15_000)
    assert time.monotonic() - committed <= 15.0
    assert page.get_attribute("#live-status", "data-mode") == "polling"


def test_a_late_ticket_is_reassigned_in_two_clicks(asgi_server, dispatcher_page):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT, description="Alt")
    report_dispatch(report=report)
    due = timezone.now() - timedelta(hours=3)
    Assignment.objects.filter(report=report).update(due_at=due)
    Report.objects.filter(pk=report.pk).update(due_at=due)

    page = dispatcher_page.new_page()
    page.goto(asgi_server + "/dispatch/")
    page.click(f"#list-late li[data-ticket-id='{report.pk}'] a")  # click 1
    page.wait_for_selector("#reassign-form")
    assert page.input_value("#reassign-reason")  # a reason is suggested for a late ticket
    page.click("#reassign-form button[type=submit]")  # click 2
    page.wait_for_selector(".message-success")
    history = list(
        Assignment.objects.filter(report=report).order_by("id").values_list("crew__code", "active")
    )
    assert history[0] == ("nord", False) and history[1][1] is True and history[1][0] != "nord"
    assert page.locator(".assignment-history tbody tr").count() == 2


def test_a_ticket_turns_late_on_the_open_map_the_moment_its_deadline_passes(
    asgi_server, dispatcher_page
):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=report)
    # Long enough for the page to load on a busy machine before the deadline passes.
    due = timezone.now() + timedelta(seconds=15)
    Assignment.objects.filter(report=report).update(due_at=due)
    Report.objects.filter(pk=report.pk).update(due_at=due)

    page = dispatcher_page.new_page()
    page.goto(asgi_server + "/dispatch/")
    page.wait_for_selector(f"#list-due_soon li[data-ticket-id='{report.pk}']")
    late_before = int(page.inner_text("#count-late"))
    # No server message: the deadline passing is enough.
    page.wait_for_selector(f"#list-late li[data-ticket-id='{report.pk}']", timeout=20_000)
    assert timezone.now() >= due
    assert "state-late" in page.get_attribute(f"path.ticket-{report.pk}", "class")
    assert int(page.inner_text("#count-late")) == late_before + 1


def test_a_resident_reopen_reaches_the_attention_list_and_is_cleared_with_history(
    asgi_server, dispatcher_page
):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    report_dispatch(report=report)
    report = report_transition(report=report, to=Report.Status.CLEARED, note="Beseitigt.")
    page = dispatcher_page.new_page()
    page.goto(asgi_server + "/dispatch/")
    page.wait_for_selector("#live-status[data-mode='push']", timeout=10_000)
    page.wait_for_function("document.getElementById('dispatch-app').dataset.refreshedAt")
    assert axe_serious(page) == []
    assert page.locator(f"#list-attention li[data-ticket-id='{report.pk}']").count() == 0

    started = time.monotonic()
    report_reopen_by_resident(report=report, note="Liegt immer noch da")
    item = page.locator(f"#list-attention li[data-ticket-id='{report.pk}']")
    item.wait_for(timeout=2000)  # by push, like any change
    assert time.monotonic() - started <= 2.0
    assert "von Anwohnenden wieder geöffnet" in item.inner_text()
    # A distinct marker on the map, with a name for screen readers.
    badge = page.locator(f".attention-marker.attention-{report.pk}.has-flags")
    assert badge.count() == 1 and f"#{report.pk}" in badge.get_attribute("title")
    # The filter narrows the list to one kind.
    page.select_option("#attention-filter", ReportFlag.Kind.BOOKED_PICKUP)
    assert item.count() == 0
    page.select_option("#attention-filter", ReportFlag.Kind.REOPENED)
    assert item.count() == 1
    assert axe_serious(page) == []

    item.locator("a").click()
    page.wait_for_selector(".needs-attention")
    flag_box = page.locator(".needs-attention [data-flag='reopened']")
    assert "Liegt immer noch da" in flag_box.inner_text()
    assert page.locator(".ticket-map .leaflet-container").count() == 1
    assert axe_serious(page) == []
    flag_box.locator("input[name=note]").fill("Crew Nord informiert")
    flag_box.locator("button").click()
    page.wait_for_selector(".message-success")
    assert "Crew Nord informiert" in page.inner_text(".event-list")
    assert not report.flags.filter(resolved_at__isnull=True).exists()
    assert axe_serious(page) == []
