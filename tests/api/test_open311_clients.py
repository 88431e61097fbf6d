"""Open311 for every client: FixMyStreet's media_url instead of an upload, its update
extension (servicerequestupdates), ISO 8601 everywhere, 405 for wrong methods, and every id a
POST answered findable, also while it waits for moderation."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone

from api.open311.keys import client_create
from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import report_create, report_moderate, report_transition
from tests.api.open311_spec import W3C_DATETIME, fms_parse, parse_xml
from tests.conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"
NEUSTADT = {"lat": "51.0655", "long": "13.7535"}


@pytest.fixture
def client():
    return Client(REMOTE_ADDR="127.0.0.1", headers={"Accept-Language": "en"})


@pytest.fixture
def api_key(db):
    return client_create(name="FixMyStreet", contact="fms@example.org")[1]


def _fms_post(client, api_key, **fields):
    """Form-encoded the way FixMyStreet's Open311.pm posts: media_url, never a file."""
    data = {"api_key": api_key, "service_code": "litter", **NEUSTADT, **fields}
    return client.post(
        f"{BASE}requests.xml",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
    )


def _fms_id(response) -> int:
    parsed = fms_parse(response.content)
    return int(parsed["request"][0]["service_request_id"])


def test_a_photo_category_takes_a_media_url_and_flags_the_missing_photo(client, api_key):
    url = "https://fixmystreet.example/photo/123.full.jpeg"
    response = _fms_post(
        client, api_key, service_code="bulky_waste", media_url=url, description="Sofa"
    )
    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=_fms_id(response))
    flag = report.flags.get(kind=ReportFlag.Kind.PHOTO_MISSING, resolved_at__isnull=True)
    assert url in flag.reason and flag.data == {"media_url": url}
    assert not report.photos.exists()  # the link was not fetched
    detail = client.get(f"{BASE}requests/{report.pk}.json").json()[0]
    assert detail["media_url"] == url and detail["description"] == "Sofa"


def test_an_uploaded_photo_needs_no_flag(client, api_key):
    response = client.post(
        f"{BASE}requests.json",
        {
            "api_key": api_key,
            "service_code": "bulky_waste",
            **NEUSTADT,
            "media": upload(jpeg_bytes()),
        },  # noqa: E501
    )
    assert response.status_code == 201
    report = Report.objects.get(pk=response.json()[0]["service_request_id"])
    assert not report.flags.filter(kind=ReportFlag.Kind.PHOTO_MISSING).exists()


def test_every_service_accepts_a_post_without_a_file(client, api_key):
    services = client.get(f"{BASE}services.json").json()
    assert len(services) >= 3
    for service in services:
        definition = client.get(f"{BASE}services/{service['service_code']}.json").json()
        answers = {}
        for attribute in definition["attributes"]:
            if attribute["required"]:
                value = attribute["values"][0]["key"] if attribute["values"] else "1"
                answers[f"attribute[{attribute['code']}]"] = value
        response = _fms_post(
            client,
            api_key,
            service_code=service["service_code"],
            media_url="https://fixmystreet.example/p.jpeg",
            **answers,
        )
        assert response.status_code == 201, (service["service_code"], response.content)


@pytest.mark.parametrize("url", ["/open311/discovery.json", f"{BASE}discovery.json"])
def test_discovery_changeset_is_iso_8601_with_offset(client, url):
    body = client.get(url).json()
    for stamp in (body["changeset"], body["endpoints"][0]["changeset"]):
        assert W3C_DATETIME.match(stamp), stamp
        assert datetime.fromisoformat(stamp).utcoffset() is not None


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "services.xml", "GET"),
        ("put", "services.json", "GET"),
        ("delete", "requests.json", "GET, POST"),
        ("patch", "servicerequestupdates.xml", "GET"),
        ("post", "discovery.json", "GET"),
    ],
)
def test_wrong_methods_are_405_with_an_open311_error(client, method, path, allowed):
    response = getattr(client, method)(BASE + path)
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) >= set(allowed.split(", "))
    if path.endswith(".json"):
        assert response["Content-Type"].startswith("application/json")
        error = response.json()[0]
        assert error["code"] == 405 and method.upper() in error["description"]
    else:
        root = parse_xml(response.content)
        assert root.tag == "errors" and root.findtext("error/code") == "405"


def test_a_pre_moderated_request_answers_its_id_with_status_only(client, api_key):
    response = _fms_post(
        client, api_key, service_code="hazardous", description="Ölkanister", media_url=""
    )
    assert response.status_code == 201, response.content
    report_id = _fms_id(response)
    report = Report.objects.get(pk=report_id)
    assert report.moderation == Report.Moderation.PENDING

    entry = client.get(f"{BASE}requests/{report_id}.json").json()[0]
    assert entry["service_request_id"] == report_id
    assert entry["status"] == "open" and entry["service_code"] == "hazardous"
    assert "checked" in entry["status_notes"]
    assert entry["description"] is None and entry["media_url"] is None
    assert entry["lat"] is None and entry["long"] is None
    assert W3C_DATETIME.match(entry["requested_datetime"])
    xml = fms_parse(client.get(f"{BASE}requests/{report_id}.xml").content)
    assert xml["request"][0]["status"] == "open"
    listed = client.get(f"{BASE}requests.json", {"service_request_id": str(report_id)}).json()
    assert [e["service_request_id"] for e in listed] == [report_id]
    # Not in the public lists until approved.
    public = client.get(f"{BASE}requests.json").json()
    assert report_id not in [e["service_request_id"] for e in public]

    report_moderate(report=report, action="approve")
    entry = client.get(f"{BASE}requests/{report_id}.json").json()[0]
    assert entry["description"] == "Ölkanister" and entry["lat"] is not None


def _dispatched(**kwargs) -> Report:
    report, _ = report_create(
        category="litter", location=Point(13.7416, 51.0519, srid=4326), **kwargs
    )
    report_dispatch(report=report)
    return Report.objects.get(pk=report.pk)


def test_fixmystreet_reads_status_changes_through_the_update_extension(
    client, django_capture_on_commit_callbacks
):
    report = _dispatched(description="Müll")
    before = timezone.now() - timedelta(seconds=1)
    report_transition(report=report, to=Report.Status.IN_PROGRESS, note="Wir sind unterwegs")
    with django_capture_on_commit_callbacks(execute=True):  # the after photo is processed
        report_transition(
            report=Report.objects.get(pk=report.pk),
            to=Report.Status.CLEARED,
            photo=upload(jpeg_bytes()),
            note="Beräumt",
        )
    after = timezone.now() + timedelta(seconds=1)
    # As Open311.pm asks: start_date and end_date in W3C format, api_key along.
    query = {
        "start_date": before.isoformat(),
        "end_date": after.isoformat(),
        "api_key": "whatever",
        "jurisdiction_id": "",
    }
    response = client.get(f"{BASE}servicerequestupdates.xml", query)
    assert response.status_code == 200
    assert parse_xml(response.content).tag == "service_request_updates"
    updates = fms_parse(response.content)["request_update"]
    assert [u["status"] for u in updates] == ["open", "closed"]
    closing = updates[1]
    assert closing["service_request_id"] == str(report.pk)
    assert closing["description"] == "Beräumt"
    assert W3C_DATETIME.match(closing["updated_datetime"])
    assert closing["media_url"].startswith("http://testserver/media/")
    assert updates[0]["update_id"] != closing["update_id"]
    assert updates[0]["media_url"] is None

    as_json = client.get(f"{BASE}servicerequestupdates.json", query).json()
    assert [u["update_id"] for u in as_json] == [int(u["update_id"]) for u in updates]
    assert set(as_json[0]) >= {
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    }

    # Outside the window: nothing.
    earlier = {
        "start_date": (before - timedelta(days=2)).isoformat(),
        "end_date": before.isoformat(),
    }
    assert client.get(f"{BASE}servicerequestupdates.json", earlier).json() == []
    bad = client.get(f"{BASE}servicerequestupdates.json", {"start_date": "gestern"})
    assert bad.status_code == 400 and "start_date" in bad.json()[0]["description"]


def test_updates_of_a_pre_moderated_request_carry_no_text(client):
    report, _ = report_create(
        category="hazardous", location=Point(13.7416, 51.0519, srid=4326), description="x"
    )
    report_dispatch(report=report)
    report_transition(
        report=Report.objects.get(pk=report.pk), to=Report.Status.REJECTED, note="privat: Name"
    )
    updates = client.get(f"{BASE}servicerequestupdates.json").json()
    mine = [u for u in updates if u["service_request_id"] == report.pk]
    assert mine and mine[-1]["status"] == "closed"
    assert all(u["description"] is None for u in mine)
