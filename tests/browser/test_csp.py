"""Every page runs under the Content-Security-Policy: no violation, no script error.

The pages are opened with CSP enforced (bypass_csp=False); a `securitypolicyviolation`
listener installed before any page script and the console catch anything the policy blocked.
"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from crews.models import DISPATCHER_GROUP
from crews.services import report_dispatch
from demo.loaders import privacy_demo_photo
from events.models import Event
from reports.services import report_create, report_moderate
from tests.conftest import NEUSTADT_POINT, upload
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") +
    " @" + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def _session_cookie(live_server, user) -> dict:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    return {"name": "sessionid", "value": cookie.value, "url": live_server.url}


def _check(context, url: str, wait_for: str | None = None) -> list[str]:
    """Open `url` in a fresh tab; what the policy blocked there, and script errors."""
    problems: list[str] = []
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and ("Content Security Policy" in m.text or "Refused to" in m.text)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    response = page.goto(url)
    assert response.ok, url
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    if wait_for:
        page.wait_for_selector(wait_for, state="attached")
    page.wait_for_load_state("load")
    problems += page.evaluate("window.__cspViolations || []")
    page.close()
    return problems


def test_pages_run_under_the_policy(dresden_committed, live_server, page_factory, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    photo = upload(privacy_demo_photo())
    report, _ = report_create(
        category="bulky_waste", location=NEUSTADT_POINT, description="Sofa", photos=[photo]
    )
    report_dispatch(report=report)
    sensitive, _ = report_create(category="hazardous", location=NEUSTADT_POINT)
    report_moderate(report=sensitive, action="approve")
    event = Event.objects.filter(location__isnull=False).first()
    dispatcher = UserFactory(username="csp-dispatcher", is_staff=True)
    dispatcher.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
    photo_id = report.photos.get().pk
    base = live_server.url
    public_pages = [
        ("/", ".leaflet-container"),
        ("/report/new/", "form"),
        (f"/reports/{report.pk}/", ".folium-map, .leaflet-container"),
        (f"/r/{report.tracking_token}/", None),
        (f"/privacy/{report.tracking_token}/", None),
        ("/events/", None),
        ("/accounts/login/", None),
        ("/api/docs/", None),
    ]
    if event is not None:
        public_pages.append((f"/events/{event.pk}/", None))
    staff_pages = [
        ("/dispatch/", ".leaflet-container"),
        ("/dispatch/stats/", None),
        ("/staff/", None),
        (f"/staff/reports/{report.pk}/", None),
        (f"/staff/photos/{photo_id}/", "#blur-editor .blur-box"),
        ("/staff/personal-data/?email=x@example.org", None),
        ("/admin/", None),
    ]
    found = {}
    public = page_factory(bypass_csp=False).context
    public.add_init_script(LISTEN)
    for path, selector in public_pages:
        found[path] = _check(public, base + path, selector)
    staff = page_factory(bypass_csp=False).context
    staff.add_init_script(LISTEN)
    staff.add_cookies([_session_cookie(live_server, dispatcher)])
    for path, selector in staff_pages:
        found[path] = _check(staff, base + path, selector)
    problems = {path: p for path, p in found.items() if p}
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_blur_editor_adds_and_removes_boxes_under_the_policy(
    dresden_committed, live_server, page_factory, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    report, _ = report_create(
        category="bulky_waste", location=NEUSTADT_POINT, photos=[upload(privacy_demo_photo())]
    )
    photo = report.photos.get()
    automatic = len(photo.blur_boxes)
    assert automatic >= 2  # face and plate
    staff = UserFactory(username="csp-staff", is_staff=True)
    page = page_factory(bypass_csp=False)
    page.context.add_cookies([_session_cookie(live_server, staff)])
    page.goto(f"{live_server.url}/staff/photos/{photo.pk}/")
    page.wait_for_selector("#blur-editor .blur-box")
    image = page.locator("#blur-image").bounding_box()
    # Draw a new box in the top-left corner.
    page.mouse.move(image["x"] + 10, image["y"] + 10)
    page.mouse.down()
    page.mouse.move(image["x"] + 60, image["y"] + 50, steps=4)
    page.mouse.up()
    assert page.locator("#blur-editor .blur-box").count() == automatic + 1
    # Select the first automatic box and remove it.
    page.locator("#blur-editor .blur-box").first.click()
    page.click("#blur-remove")
    assert page.locator("#blur-editor .blur-box").count() == automatic
    page.click("#blur-form button[type=submit]")
    page.wait_for_selector(".messages li")
    photo.refresh_from_db()
    assert len(photo.blur_boxes) == automatic
    assert any(b["source"] == "staff" and b["x"] < 0.1 for b in photo.blur_boxes)
