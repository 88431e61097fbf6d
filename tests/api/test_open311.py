"""Open311 GeoReport v2 endpoints: every endpoint in both formats, every error case, the round
trip through the rest of civicmap, idempotency, tokens and throttling."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from api.open311 import requests_views
from api.open311.keys import client_create, client_revoke
from crews.services import report_dispatch
from reports.models import Category, Report
from reports.services import report_create, report_transition
from tests.api.open311_spec import W3C_DATETIME, fms_parse, parse_xml
from tests.conftest import gps_exif, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"
NEUSTADT = {"lat": "51.0655", "long": "13.7535"}


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def _client(address: str = "127.0.0.1") -> Client:
    return Client(REMOTE_ADDR=address, headers={"Accept-Language": "en"})


@pytest.fixture
def client():
    return _client()


@pytest.fixture
def api_key(db):
    return client_create(name="Test client", contact="it@example.org")[1]


def _post(client, api_key, fmt="json", headers=None, **fields):
    data = {"api_key": api_key, "service_code": "litter", **NEUSTADT, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"{BASE}requests.{fmt}", data, headers=headers or {})


def _post_form(client, fields: dict, fmt="json"):
    """Form-encoded exactly as the spec shows (application/x-www-form-urlencoded)."""
    return client.post(
        f"{BASE}requests.{fmt}",
        urlencode(fields, doseq=True),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )


def _errors(response) -> list[dict]:
    if response["Content-Type"].startswith("text/xml"):
        return [
            {"code": int(e.findtext("code")), "description": e.findtext("description")}
            for e in parse_xml(response.content).iter("error")
        ]
    return response.json()


def _made(when_days_ago: float = 0, category: str = "litter", **kwargs) -> Report:
    report, _ = report_create(
        category=category, location=Point(13.7416, 51.0519, srid=4326), **kwargs
    )
    report_dispatch(report=report)
    if when_days_ago:
        Report.objects.filter(pk=report.pk).update(
            created_at=timezone.now() - timedelta(days=when_days_ago)
        )
    return Report.objects.get(pk=report.pk)


# --- discovery and services ---------------------------------------------------------------


@pytest.mark.parametrize("url", ["/open311/discovery.json", "/open311/v2/?format=json"])
def test_discovery_points_to_the_v2_endpoint(client, url):
    body = client.get(url).json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2/"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert body["contact"] and body["key_service"] and body["changeset"]


@pytest.mark.parametrize("url", ["/open311/discovery.xml", "/open311/v2/"])
def test_discovery_in_xml(client, url):
    root = parse_xml(client.get(url).content)
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2/"
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


def test_services_list_every_active_category_in_both_formats(client):
    Category.objects.filter(code="graffiti").update(active=False)
    as_json = client.get(BASE + "services.json").json()
    assert [s["service_code"] for s in as_json] == list(
        Category.objects.filter(active=True).values_list("code", flat=True)
    )
    bulky = next(s for s in as_json if s["service_code"] == "bulky_waste")
    assert bulky == {
        "service_code": "bulky_waste",
        "service_name": "Illegally dumped bulky waste",
        "description": "Furniture, mattresses, appliances or other large items on public ground.",
        "metadata": True,
        "type": "realtime",
        "keywords": "Sperrmüll, Möbel, Matratze",
        "group": "Sauberkeit",
    }
    root = parse_xml(client.get(BASE + "services.xml").content)
    assert [s.findtext("service_code") for s in root.iter("service")] == [
        s["service_code"] for s in as_json
    ]
    assert "graffiti" not in {s["service_code"] for s in as_json}


def test_service_definition_of_bulky_waste_in_both_formats(client):
    body = client.get(BASE + "services/bulky_waste.json").json()
    assert body["service_code"] == "bulky_waste"
    assert [a["code"] for a in body["attributes"]] == ["volume", "blocks_footway"]
    footway = body["attributes"][1]
    assert footway["datatype"] == "singlevaluelist" and footway["order"] == 2
    assert footway["values"] == [{"key": "yes", "name": "ja"}, {"key": "no", "name": "nein"}]
    root = parse_xml(client.get(BASE + "services/bulky_waste.xml").content)
    assert [a.findtext("code") for a in root.iter("attribute")] == ["volume", "blocks_footway"]


def test_service_without_attributes_has_an_empty_definition(client):
    assert client.get(BASE + "services/litter.json").json() == {
        "service_code": "litter",
        "attributes": [],
    }


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_or_inactive_service_definition_is_404(client, fmt):
    Category.objects.filter(code="graffiti").update(active=False)
    for code in ("unicorns", "graffiti"):
        response = client.get(f"{BASE}services/{code}.{fmt}")
        assert response.status_code == 404
        assert _errors(response)[0]["code"] == 404
        assert code in _errors(response)[0]["description"]


# --- POST requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_form_encoded_post_creates_a_routed_report(client, api_key, fmt):
    response = _post_form(
        client,
        {
            "api_key": api_key,
            "jurisdiction_id": "dresden.de",
            "service_code": "glass",
            **NEUSTADT,
            "address_string": "Alaunstraße 1",
            "email": "anna@example.org",
            "first_name": "Anna",
            "last_name": "Beispiel",
            "phone": "0351 123",
            "device_id": "abc",
            "account_id": "42",
            "description": "Scherben\nauf dem Radweg",
        },
        fmt=fmt,
    )
    assert response.status_code == 201, response.content
    if fmt == "json":
        answer = response.json()[0]
        report_id, notice = answer["service_request_id"], answer["service_notice"]
        assert answer["account_id"] is None
    else:
        request = parse_xml(response.content).find("request")
        report_id, notice = (
            int(request.findtext("service_request_id")),
            request.findtext("service_notice"),
        )
    report = Report.objects.get(pk=report_id)
    assert report.source == Report.Source.OPEN311
    assert report.category.code == "glass"
    assert report.district.code == "neustadt"
    assert report.status == Report.Status.ASSIGNED and report.due_at
    assert report.description == "Scherben\nauf dem Radweg"
    assert report.address == "Alaunstraße 1"
    assert (report.reporter_email, report.reporter_name, report.reporter_phone) == (
        "anna@example.org",
        "Anna Beispiel",
        "0351 123",
    )
    crew = report.assignments.get(active=True).crew
    assert crew.name in notice


@pytest.mark.parametrize("field", ["media", "media[]", "photo1"])
def test_multipart_photo_upload_is_stored_and_published_without_metadata(
    client, api_key, field, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client,
            api_key,
            **{field: upload(jpeg_bytes(exif=gps_exif(51.0655, 13.7535, serial="SN-1")))},
        )
    assert response.status_code == 201, response.content
    report_id = response.json()[0]["service_request_id"]
    photo = Report.objects.get(pk=report_id).photos.get()
    assert photo.public_image  # processed (tasks run eagerly in tests)
    detail = client.get(f"{BASE}requests/{report_id}.json").json()[0]
    assert detail["media_url"] == "http://testserver" + photo.public_image.url
    with photo.public_image.open("rb") as handle:
        published = handle.read()
    assert b"SN-1" not in published and b"TestCam" not in published


def test_several_photos_as_fixmystreet_sends_them(client, api_key):
    response = _post(
        client,
        api_key,
        photo1=upload(jpeg_bytes(colour=(10, 10, 10)), "1.jpg"),
        photo2=upload(jpeg_bytes(colour=(200, 10, 10)), "2.jpg"),
    )
    assert response.status_code == 201
    assert Report.objects.get(pk=response.json()[0]["service_request_id"]).photos.count() == 2


def test_a_photo_with_gps_can_stand_in_for_lat_long(client, api_key):
    response = _post(
        client,
        api_key,
        lat=None,
        long=None,
        media=upload(jpeg_bytes(exif=gps_exif(51.0519, 13.7416))),
    )
    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=response.json()[0]["service_request_id"])
    assert report.location.y == pytest.approx(51.0519, abs=1e-4)


def test_a_broken_photo_is_refused_like_everywhere_else(client, api_key):
    response = _post(client, api_key, media=upload(b"not an image", "x.jpg"))
    assert response.status_code == 400
    assert "not a photo we can read" in _errors(response)[0]["description"]
    assert not Report.objects.exists()


def test_media_url_is_not_fetched_but_echoed_when_no_photo_is_uploaded(client, api_key):
    url = "https://photos.example.org/p/1.jpg"
    response = _post(client, api_key, media_url=url)
    assert response.status_code == 201
    report_id = response.json()[0]["service_request_id"]
    assert client.get(f"{BASE}requests/{report_id}.json").json()[0]["media_url"] == url
    assert _post(client, api_key, media_url="javascript:alert(1)").status_code == 400


def test_a_category_that_needs_a_photo_says_how_to_send_it(client, api_key):
    response = _post(client, api_key, service_code="bulky_waste")
    assert response.status_code == 400
    description = _errors(response)[0]["description"]
    assert "photo is required" in description and "'media'" in description
    assert "media_url" in description


def test_attributes_are_validated_and_stored(client, api_key):
    photo = upload(jpeg_bytes())
    response = _post(
        client,
        api_key,
        service_code="bulky_waste",
        media=photo,
        **{"attribute[volume]": "large", "attribute[blocks_footway]": "yes"},
    )
    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=response.json()[0]["service_request_id"])
    assert report.attributes == {"volume": "large", "blocks_footway": "yes"}

    response = _post(
        client,
        api_key,
        fmt="xml",
        service_code="bulky_waste",
        media=upload(jpeg_bytes()),
        **{"attribute[volume]": "enormous", "attribute[blocks_footway]": "maybe"},
    )
    assert response.status_code == 400
    descriptions = [e["description"] for e in _errors(response)]
    assert len(descriptions) == 2
    assert "attribute[volume]: 'enormous' is not one of: small, medium, large." in descriptions
    assert Report.objects.count() == 1


def test_required_multivalue_number_and_datetime_attributes(client, api_key):
    Category.objects.filter(code="litter").update(
        attributes=[
            {"code": "kinds", "description": "What lies there?", "datatype": "multivaluelist",
             "required": True, "order": 1,
             "values": [{"key": "paper", "name": "Paper"}, {"key": "glass", "name": "Glass"}]},
            {"code": "bags", "description": "How many bags?", "datatype": "number",
             "required": False, "order": 2},
            {"code": "seen", "description": "Seen when?", "datatype": "datetime",
             "required": False, "order": 3},
        ]
    )  # fmt: skip
    missing = _post(client, api_key)
    assert missing.status_code == 400
    assert "attribute[kinds] is required" in _errors(missing)[0]["description"]
    bad = _post(client, api_key, **{"attribute[kinds][]": ["paper"], "attribute[bags]": "many",
                                    "attribute[seen]": "yesterday"})  # fmt: skip
    assert bad.status_code == 400 and len(_errors(bad)) == 2
    good = _post_form(
        client,
        {"api_key": api_key, "service_code": "litter", **NEUSTADT,
         "attribute[kinds][]": ["paper", "glass"], "attribute[bags]": "3",
         "attribute[seen]": "2026-11-20T08:00:00+01:00"},
    )  # fmt: skip
    assert good.status_code == 201, good.content
    report = Report.objects.get(pk=good.json()[0]["service_request_id"])
    assert report.attributes == {
        "kinds": ["paper", "glass"],
        "bags": "3",
        "seen": "2026-11-20T08:00:00+01:00",
    }


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(
    ("fields", "status", "text"),
    [
        ({"service_code": None}, 400, "service_code was not provided"),
        ({"service_code": "unicorns"}, 404, "service_code 'unicorns' not found"),
        ({"lat": None, "long": None}, 400, "send lat and long"),
        ({"lat": None, "long": None, "address_string": "Alaunstr. 1"}, 400, "no geocoder"),
        ({"lat": "abc"}, 400, "lat 'abc' is not a number"),
        ({"lat": "91"}, 400, "lat must be between -90 and 90"),
        ({"long": "-181"}, 400, "long must be between -180 and 180"),
        ({"long": None}, 400, "lat and long must both be sent"),
        ({"lat": "52.52", "long": "13.405"}, 400, "outside the area this service covers"),
        ({"description": "x" * 4001}, 400, "longer than 4000 characters"),
        ({"email": "not-an-email"}, 400, "email:"),
        ({"jurisdiction_id": "berlin.de"}, 404, "jurisdiction_id 'berlin.de' not found"),
        ({"api_key": None}, 403, "api_key is missing"),
        ({"api_key": "guessed-key-guessed-key"}, 403, "Invalid api_key"),
    ],
)
def test_bad_posts_get_spec_form_errors(client, api_key, fmt, fields, status, text):
    fields = dict(fields)
    response = _post(client, fields.pop("api_key", api_key), fmt=fmt, **fields)
    assert response.status_code == status, response.content
    errors = _errors(response)
    assert errors[0]["code"] == status
    assert text in errors[0]["description"]
    assert not Report.objects.exists()


def test_a_revoked_key_is_refused(client, api_key):
    from api.models import Open311Client

    client_revoke(client=Open311Client.objects.get())
    response = _post(client, api_key)
    assert response.status_code == 403
    assert not Report.objects.exists()


def test_a_retry_with_the_same_idempotency_key_makes_one_report(client, api_key):
    headers = {"Idempotency-Key": "fms-problem-17"}
    first = _post(client, api_key, headers=headers)
    again = _post(client, api_key, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    report_id = first.json()[0]["service_request_id"]
    assert again.json()[0]["service_request_id"] == report_id
    assert Report.objects.count() == 1
    # ... and the key works as a token for a client that lost the answer.
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}tokens/fms-problem-17.{fmt}")
        assert response.status_code == 200
    assert client.get(BASE + "tokens/fms-problem-17.json").json() == [
        {"service_request_id": report_id, "token": "fms-problem-17"}
    ]
    xml = fms_parse(client.get(BASE + "tokens/fms-problem-17.xml").content)
    assert xml["request"][0] == {"service_request_id": str(report_id), "token": "fms-problem-17"}


def test_an_overlong_idempotency_key_is_refused(client, api_key):
    response = _post(client, api_key, headers={"Idempotency-Key": "k" * 151})
    assert response.status_code == 400
    assert "Idempotency-Key" in _errors(response)[0]["description"]
    assert not Report.objects.exists()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_token_is_404(client, fmt):
    response = client.get(f"{BASE}tokens/nope.{fmt}")
    assert response.status_code == 404
    assert "token 'nope' not found" in _errors(response)[0]["description"]


# --- GET requests -----------------------------------------------------------------------------


def test_get_request_in_both_formats_without_a_key(client):
    report = _made(description="Viel Müll", address="Postplatz 1", zipcode="01067")
    body = client.get(f"{BASE}requests/{report.pk}.json").json()
    assert len(body) == 1
    entry = body[0]
    assert entry["service_request_id"] == report.pk
    assert entry["status"] == "open" and entry["status_notes"] is None
    assert entry["service_code"] == "litter" and entry["service_name"] == "Littered place"
    assert entry["description"] == "Viel Müll"
    assert entry["agency_responsible"] == report.assignments.get(active=True).crew.name
    assert entry["address"] == "Postplatz 1" and entry["zipcode"] == "01067"
    assert entry["lat"] == pytest.approx(51.0519) and entry["long"] == pytest.approx(13.7416)
    assert entry["media_url"] is None and entry["address_id"] is None
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C_DATETIME.match(entry[field]), entry[field]
    assert (
        entry["expected_datetime"]
        == timezone.localtime(report.due_at).replace(microsecond=0).isoformat()
    )
    assert "anna" not in str(body) and report.tracking_token not in str(body)

    root = parse_xml(client.get(f"{BASE}requests/{report.pk}.xml").content)
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == str(report.pk)
    assert root.findtext("request/status") == "open"


def test_reporter_contact_never_appears(client, api_key):
    _post(client, api_key, email="secret@example.org", first_name="Geheim", phone="0170 999")
    for fmt in ("xml", "json"):
        content = client.get(f"{BASE}requests.{fmt}").content.decode()
        assert "secret@example.org" not in content and "Geheim" not in content
        assert "0170 999" not in content


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("request_id", ["999999", "abc"])
def test_unknown_request_is_404(client, fmt, request_id):
    response = client.get(f"{BASE}requests/{request_id}.{fmt}")
    assert response.status_code == 404
    assert _errors(response) == [
        {"code": 404, "description": f"service_request_id '{request_id}' not found."}
    ]


def test_status_maps_open_and_closed(client):
    states = {}
    for status in Report.Status:
        report = _made()
        if status == Report.Status.IN_PROGRESS:
            report = report_transition(report=report, to=status)
        elif status == Report.Status.NEW:
            Report.objects.filter(pk=report.pk).update(status=status)
        elif status == Report.Status.DUPLICATE:
            report = report_transition(report=report, to=status, duplicate_of=_made())
        elif status != Report.Status.ASSIGNED:
            report = report_transition(report=report, to=status, note="Grund")
        states[report.pk] = status
    body = client.get(BASE + "requests.json", {"service_request_id": ",".join(map(str, states))})
    answered = {e["service_request_id"]: e["status"] for e in body.json()}
    for report_id, status in states.items():
        expected = "open" if status in Report.OPEN_STATUSES else "closed"
        assert answered[report_id] == expected, status


def test_filters_codes_status_dates_and_ids(client):
    litter = _made(when_days_ago=2)
    glass = _made(when_days_ago=5, category="glass")
    cleared = _made(when_days_ago=1)
    report_transition(report=cleared, to=Report.Status.CLEARED, note="Weg")
    old = _made(when_days_ago=120)

    def ids(fmt="json", **query):
        response = client.get(f"{BASE}requests.{fmt}", query)
        assert response.status_code == 200, response.content
        if fmt == "xml":
            return [int(e.text) for e in parse_xml(response.content).iter("service_request_id")]
        return [e["service_request_id"] for e in response.json()]

    # Default: the last 90 days, newest first.
    assert ids() == [cleared.pk, litter.pk, glass.pk]
    assert ids("xml") == [cleared.pk, litter.pk, glass.pk]
    assert ids(service_code="glass") == [glass.pk]
    assert ids(service_code="glass,litter", status="open") == [litter.pk, glass.pk]
    assert ids(status="closed") == [cleared.pk]
    assert ids(status="open,closed") == [cleared.pk, litter.pk, glass.pk]
    now = timezone.now()
    start = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start) == [cleared.pk, litter.pk]
    end = (now - timedelta(days=3)).isoformat()
    assert ids(end_date=end) == [glass.pk]
    old_start = (now - timedelta(days=125)).date().isoformat()
    assert ids(start_date=old_start, end_date=(now - timedelta(days=100)).isoformat()) == [old.pk]
    # service_request_id overrides every other filter, old requests included.
    assert ids(service_request_id=f"{old.pk},{glass.pk}", status="closed") == [glass.pk, old.pk]


def test_unencoded_plus_in_an_offset_is_understood(client):
    report = _made(when_days_ago=1)
    start = (timezone.localtime() - timedelta(days=2)).replace(microsecond=0).isoformat()
    url = f"{BASE}requests.json?start_date={start}"  # '+01:00' arrives as ' 01:00'
    assert [e["service_request_id"] for e in client.get(url).json()] == [report.pk]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(
    ("query", "text"),
    [
        ({"start_date": "yesterday"}, "start_date 'yesterday' is not a valid date"),
        ({"end_date": "2026-13-45"}, "end_date '2026-13-45' is not a valid date"),
        ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, "more than 90 days"),
        ({"start_date": "2026-02-01", "end_date": "2026-01-01"}, "end_date is before"),
        ({"status": "pending"}, "status must be open, closed"),
        ({"service_request_id": "1,x"}, "comma-separated list of numbers"),
    ],
)
def test_bad_queries_get_400(client, fmt, query, text):
    response = client.get(f"{BASE}requests.{fmt}", query)
    assert response.status_code == 400
    assert text in _errors(response)[0]["description"]


def test_list_limit_and_query_count(
    client, monkeypatch, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            _made(photos=[upload(jpeg_bytes())])
    monkeypatch.setattr(requests_views, "DEFAULT_LIMIT", 3)
    with django_assert_max_num_queries(8):
        body = client.get(BASE + "requests.json").json()
    assert len(body) == 3 and all(e["media_url"] for e in body)


@pytest.mark.parametrize("url", ["services", "services/litter", "requests"])
def test_jurisdiction_is_checked_on_get(client, url):
    assert client.get(f"{BASE}{url}.json", {"jurisdiction_id": "dresden.de"}).status_code == 200
    wrong = client.get(f"{BASE}{url}.xml", {"jurisdiction_id": "sfgov.org"})
    assert wrong.status_code == 404
    assert "jurisdiction_id 'sfgov.org' not found" in _errors(wrong)[0]["description"]


def test_unsupported_format_is_a_spec_error(client):
    response = client.get(BASE + "services.html")
    assert response.status_code == 400
    assert "Format 'html' is not supported" in _errors(response)[0]["description"]


@pytest.mark.parametrize("path", ["requests/.json", "nothing.xml", "services/litter/x.json"])
def test_unknown_paths_get_a_spec_form_404(client, path):
    response = client.get(BASE + path)
    assert response.status_code == 404
    assert "There is no Open311 resource" in _errors(response)[0]["description"]


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_open311_to_public_api_to_crew_and_back(
    client, api_key, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client,
            api_key,
            fmt="xml",
            service_code="bulky_waste",
            description="Sofa und Matratze",
            media=upload(jpeg_bytes()),
            **{"attribute[volume]": "medium"},
        )
    assert response.status_code == 201, response.content
    report_id = int(fms_parse(response.content)["request"][0]["service_request_id"])

    public = client.get(f"/api/v1/reports/{report_id}/")
    assert public.status_code == 200
    assert public.json()["id"] == report_id
    assert public.json()["properties"]["crew"] == "Sperrmüll-Team"
    assert public.json()["properties"]["photos"][0]["url"]
    on_map = client.get("/api/v1/reports/", {"bbox": "13.70,51.04,13.80,51.09"}).json()
    assert report_id in [feature["id"] for feature in on_map["features"]]

    request = fms_parse(client.get(f"{BASE}requests/{report_id}.xml").content)["request"][0]
    assert request["status"] == "open" and request["agency_responsible"] == "Sperrmüll-Team"
    assert request["media_url"].startswith("http://testserver/media/")

    report = Report.objects.get(pk=report_id)
    report_transition(report=report, to=Report.Status.CLEARED, note="Sofa abgeholt.")

    for fmt in ("xml", "json"):
        answer = client.get(f"{BASE}requests/{report_id}.{fmt}")
        closed = fms_parse(answer.content)["request"][0] if fmt == "xml" else answer.json()[0]
        assert closed["status"] == "closed"
        assert closed["status_notes"] == "Sofa abgeholt."
    closed_list = client.get(BASE + "requests.json", {"status": "closed"}).json()
    assert [e["service_request_id"] for e in closed_list] == [report_id]
    report.refresh_from_db()
    assert (
        closed_list[0]["updated_datetime"]
        == timezone.localtime(report.closed_at).replace(microsecond=0).isoformat()
    )


# --- throttling -------------------------------------------------------------------------------


def test_posts_are_throttled_per_key(api_key, settings):
    settings.OPEN311_POST_RATE_PER_KEY = "2/minute"
    for address in ("10.0.0.1", "10.0.0.2"):
        assert _post(_client(address), api_key).status_code == 201
    response = _post(_client("10.0.0.3"), api_key, fmt="xml")
    assert response.status_code == 429
    error = _errors(response)[0]
    assert error["code"] == 429
    assert "Too many requests from this API key: at most 2 per 60 seconds" in error["description"]
    assert int(response["Retry-After"]) > 0
    assert Report.objects.count() == 2
    # Reading stays open.
    assert _client("10.0.0.3").get(BASE + "requests.json").status_code == 200


def test_posts_are_throttled_per_ip_even_with_guessed_keys(client, settings):
    settings.OPEN311_POST_RATE_PER_IP = "3/minute"
    for number in range(3):
        response = _post(client, f"guess-{number}-xxxxxxxxxxxxxxxx")
        assert response.status_code == 403
    response = _post(client, "guess-4-xxxxxxxxxxxxxxxx")
    assert response.status_code == 429
    assert "Too many requests from this IP address" in _errors(response)[0]["description"]
    other = _client("10.9.9.9")
    assert _post(other, "guess-5-xxxxxxxxxxxxxxxx").status_code == 403


# --- OpenAPI ----------------------------------------------------------------------------------


def test_open311_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = set(schema["paths"])
    for path in (
        "/open311/discovery.{fmt}",
        "/open311/v2/",
        "/open311/v2/services.{fmt}",
        "/open311/v2/services/{service_code}.{fmt}",
        "/open311/v2/requests.{fmt}",
        "/open311/v2/requests/{service_request_id}.{fmt}",
        "/open311/v2/tokens/{token}.{fmt}",
    ):
        assert path in paths, sorted(p for p in paths if "open311" in p)
    assert "post" in schema["paths"]["/open311/v2/requests.{fmt}"]
