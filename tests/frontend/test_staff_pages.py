"""Staff pages: only staff and dispatchers get in; moderation, blur boxes on the private
original, personal-data export; the resident's own "delete my contact data" page."""

import io
import json

import pytest
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from PIL import Image

from crews.models import DISPATCHER_GROUP
from reports.models import Report, ReportPhoto
from reports.services import report_create
from tests.conftest import jpeg_bytes, upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PIN = Point(13.74123, 51.05301, srid=4326)


@pytest.fixture
def report_with_photo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report, _ = report_create(
            category="hazardous",
            location=PIN,
            description="Spritzen",
            photos=[upload(jpeg_bytes())],
            email="erika@example.org",
            reporter_name="Erika Mustermann",
        )
    return report


def _user(kind: str):
    if kind == "anonymous":
        return None
    if kind == "resident":
        return UserFactory(username="resident-x")
    if kind == "staff":
        return UserFactory(username="staff-x", is_staff=True)
    user = UserFactory(username="dispatcher-x")
    user.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
    return user


def staff_urls(report: Report) -> list[str]:
    photo = report.photos.get()
    return [
        "/staff/",
        f"/staff/reports/{report.pk}/",
        f"/staff/photos/{photo.pk}/",
        f"/staff/photos/{photo.pk}/original.jpg",
        "/staff/personal-data/?email=erika@example.org",
    ]


@pytest.mark.parametrize("kind", ["anonymous", "resident"])
def test_staff_pages_refuse_everyone_else(client, report_with_photo, kind):
    user = _user(kind)
    if user is not None:
        client.force_login(user)
    for url in staff_urls(report_with_photo):
        response = client.get(url)
        if user is None:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        else:
            assert response.status_code == 403, url
    photo = report_with_photo.photos.get()
    for url in (
        f"/staff/reports/{report_with_photo.pk}/moderate/",
        f"/staff/photos/{photo.pk}/",
        f"/staff/photos/{photo.pk}/moderate/",
    ):
        client.post(url, {"action": "approve", "boxes": "[]", "reason": "x"})
    report_with_photo.refresh_from_db()
    assert report_with_photo.moderation == Report.Moderation.PENDING
    assert report_with_photo.photos.get().hidden_reason == ""


@pytest.mark.parametrize("kind", ["staff", "dispatcher"])
def test_staff_and_dispatchers_get_in(client, report_with_photo, kind):
    client.force_login(_user(kind))
    for url in staff_urls(report_with_photo):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"]


def test_moderation_queue_approve_and_hide(client, report_with_photo):
    client.force_login(_user("staff"))
    page = client.get("/staff/").content.decode()
    assert f'id="pending-{report_with_photo.pk}"' in page
    response = client.post(
        f"/staff/reports/{report_with_photo.pk}/moderate/", {"action": "approve", "next": "/staff/"}
    )
    assert response.status_code == 302
    report_with_photo.refresh_from_db()
    assert report_with_photo.moderation == Report.Moderation.PUBLISHED
    # Hiding without a reason is refused with a message; with one it works.
    client.post(f"/staff/reports/{report_with_photo.pk}/moderate/", {"action": "hide"})
    report_with_photo.refresh_from_db()
    assert report_with_photo.moderation == Report.Moderation.PUBLISHED
    client.post(
        f"/staff/reports/{report_with_photo.pk}/moderate/", {"action": "hide", "reason": "Spam"}
    )
    report_with_photo.refresh_from_db()
    assert report_with_photo.moderation == Report.Moderation.HIDDEN
    assert report_with_photo.moderation_reason == "Spam"


def test_forms_need_the_csrf_token(report_with_photo):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(_user("staff"))
    response = client.post(
        f"/staff/reports/{report_with_photo.pk}/moderate/", {"action": "approve"}
    )
    assert response.status_code == 403
    page = client.get(f"/staff/photos/{report_with_photo.photos.get().pk}/").content.decode()
    assert "csrfmiddlewaretoken" in page


def test_blur_editor_saves_boxes_and_rerenders(
    client, report_with_photo, django_capture_on_commit_callbacks
):
    client.force_login(_user("dispatcher"))
    photo = report_with_photo.photos.get()
    original = client.get(f"/staff/photos/{photo.pk}/original.jpg")
    assert original["Content-Type"] == "image/jpeg"
    sharp = Image.open(io.BytesIO(original.content))
    assert sharp.size == (800, 600) and len(sharp.getexif()) == 0
    box = {"x": 0.5, "y": 0.5, "w": 0.25, "h": 0.25, "source": "staff", "label": ""}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/photos/{photo.pk}/", {"boxes": json.dumps([box])})
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.blur_boxes == [box] and photo.state == ReportPhoto.State.READY
    # Broken input changes nothing.
    client.post(f"/staff/photos/{photo.pk}/", {"boxes": "not json"})
    photo.refresh_from_db()
    assert photo.blur_boxes == [box]


def test_personal_data_export_by_email(client, report_with_photo):
    report_create(category="litter", location=PIN, email="other@example.org")
    client.force_login(_user("staff"))
    page = client.get("/staff/personal-data/", {"email": "ERIKA@example.org"}).content.decode()
    assert "Erika Mustermann" in page and "other@example.org" not in page
    download = client.get("/staff/personal-data/", {"email": "erika@example.org", "format": "json"})
    assert "attachment" in download["Content-Disposition"]
    body = json.loads(download.content)
    assert [r["id"] for r in body["reports"]] == [report_with_photo.pk]
    assert body["reports"][0]["photos"][0]["original_kept"] is True


def test_resident_deletes_own_contact_data_with_the_tracking_link(client, report_with_photo):
    token = report_with_photo.tracking_token
    page = client.get(f"/privacy/{token}/")
    assert page.status_code == 200 and 'id="contact-delete"' in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    response = client.post(f"/privacy/{token}/")
    assert response.status_code == 302
    report_with_photo.refresh_from_db()
    assert report_with_photo.reporter_email == "" and report_with_photo.reporter_name == ""
    assert 'id="contact-gone"' in client.get(f"/privacy/{token}/").content.decode()
    assert client.get("/privacy/not-a-token/").status_code == 404


def test_admin_needs_a_staff_login(client):
    assert client.get("/admin/").status_code == 302
    client.force_login(_user("resident"))
    response = client.get("/admin/reports/report/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    assert client.get("/admin/reports/report/").status_code == 200


def test_public_report_page_shows_hidden_by_the_city_and_only_the_coarse_place(client):
    from reports.geo import public_point
    from reports.services import report_moderate

    report, _ = report_create(
        category="hazardous", location=PIN, description="Herr Müller aus Nr. 5 war es"
    )
    assert client.get(f"/reports/{report.pk}/").status_code == 404  # waits for approval
    track = client.get(f"/r/{report.tracking_token}/").content.decode()
    assert f"/privacy/{report.tracking_token}/" in track
    report_moderate(report=report, action="approve")
    report_moderate(report=report, action="hide_description", reason="names a person")
    page = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Müller" not in page and "Hidden by the city." in page
    coarse = public_point(point=PIN, grid_m=100)
    assert repr(coarse.y) in page and repr(PIN.y) not in page and repr(PIN.x) not in page
    assert f"/privacy/flag/{report.pk}/" in page and "csrfmiddlewaretoken" in page


def test_report_form_has_a_honeypot_that_refuses_bots(client):
    from django.core.cache import cache

    cache.clear()
    page = client.get("/report/new/").content.decode()
    assert 'name="website"' in page and 'tabindex="-1"' in page
    form = {"category": "litter", "lat": PIN.y, "lon": PIN.x, "description": "Müll"}
    refused = client.post("/report/new/", {**form, "website": "http://spam.example"})
    assert refused.status_code == 400 and not Report.objects.exists()
    assert client.post("/report/new/", form).status_code == 302
    assert Report.objects.count() == 1
