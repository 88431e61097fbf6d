"""Our Open311 documents against the specification's own examples, its XML-to-JSON (Spark)
mapping, and the way FixMyStreet's client reads XML."""

import pytest
from django.contrib.gis.geos import Point
from django.test import Client

from api.open311.keys import client_create
from crews.services import report_dispatch
from reports.models import Category, Report
from reports.services import report_create, report_transition
from tests.api.open311_spec import (
    W3C_DATETIME,
    as_text,
    assert_same_shape,
    element_paths,
    fms_parse,
    parse_xml,
    spark,
    spec_json,
    spec_xml,
)
from tests.conftest import jpeg_bytes, upload

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"


@pytest.fixture
def client():
    return Client(headers={"Accept-Language": "en"})


@pytest.fixture
def api_key(db):
    return client_create(name="Spec test client")[1]


@pytest.fixture
def reports(db):
    """One open report with everything filled in, one closed with a note."""
    open_report, _ = report_create(
        category="bulky_waste",
        location=Point(13.7535, 51.0655, srid=4326),
        description="Sofa am Alaunpark",
        address="Alaunstraße 1, Dresden",
        zipcode="01099",
        photos=[upload(jpeg_bytes())],
    )
    report_dispatch(report=open_report)
    closed, _ = report_create(category="litter", location=Point(13.7416, 51.0519, srid=4326))
    report_dispatch(report=closed)
    report_transition(report=closed, to=Report.Status.CLEARED, note="Weggeräumt.")
    return open_report, closed


# (name of the spec example, our URL) for every GET document.
DOCUMENTS = [
    ("discovery", "/open311/discovery"),
    ("services", BASE + "services"),
    ("service_definition", BASE + "services/bulky_waste"),
    ("requests", BASE + "requests"),
]


@pytest.mark.usefixtures("reports")
@pytest.mark.parametrize(("example", "url"), DOCUMENTS)
def test_xml_uses_the_element_names_and_nesting_of_the_spec_example(client, example, url):
    response = client.get(url + ".xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    ours, spec = parse_xml(response.content), spec_xml(example)
    assert ours.tag == spec.tag
    ours_paths, spec_paths = element_paths(ours), element_paths(spec)
    assert set(ours_paths) == set(spec_paths)
    for path, names in ours_paths.items():
        assert names == spec_paths[path], path


@pytest.mark.usefixtures("reports")
@pytest.mark.parametrize(("example", "url"), DOCUMENTS)
def test_json_has_the_shape_of_the_spec_example(client, example, url):
    response = client.get(url + ".json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert_same_shape(response.json(), spec_json(example))


@pytest.mark.parametrize(
    "example",
    ["discovery", "services", "service_definition", "requests", "post_request", "token", "errors"],
)
def test_our_spark_reader_reproduces_the_specs_own_json_from_its_xml(example):
    """The reader used below is itself checked against the spec's pairs of examples."""
    assert spark(spec_xml(example)) == as_text(spec_json(example))


@pytest.mark.usefixtures("reports")
@pytest.mark.parametrize(("example", "url"), DOCUMENTS)
def test_our_json_is_the_spark_mapping_of_our_xml(client, example, url):
    xml = client.get(url + ".xml").content
    json_doc = client.get(url + ".json").json()
    assert as_text(json_doc) == spark(parse_xml(xml))


def test_post_answer_and_errors_match_the_spec_examples(client, api_key):
    data = {"api_key": api_key, "service_code": "litter", "lat": "51.05", "long": "13.74"}
    xml = client.post(BASE + "requests.xml", data)
    assert xml.status_code == 201
    ours = parse_xml(xml.content)
    assert element_paths(ours) == element_paths(spec_xml("post_request"))
    json_doc = client.post(BASE + "requests.json", data)
    assert_same_shape(json_doc.json(), spec_json("post_request"))

    bad = {**data, "api_key": "not-a-key-at-all"}
    for fmt in ("xml", "json"):
        response = client.post(f"{BASE}requests.{fmt}", bad)
        assert response.status_code == 403
        if fmt == "xml":
            assert element_paths(parse_xml(response.content)) == element_paths(spec_xml("errors"))
            assert as_text(spark(parse_xml(response.content))) is not None
        else:
            assert_same_shape(response.json(), spec_json("errors"))
            assert response.json()[0]["code"] == 403


def test_token_answer_matches_the_spec_example(client, api_key):
    data = {"api_key": api_key, "service_code": "litter", "lat": "51.05", "long": "13.74"}
    client.post(BASE + "requests.xml", data, headers={"Idempotency-Key": "tok-1"})
    xml = client.get(BASE + "tokens/tok-1.xml")
    assert element_paths(parse_xml(xml.content)) == element_paths(spec_xml("token"))
    assert_same_shape(client.get(BASE + "tokens/tok-1.json").json(), spec_json("token"))


def test_fixmystreet_reads_services_and_definitions(client):
    services = fms_parse(client.get(BASE + "services.xml").content)["service"]
    codes = {s["service_code"]: s for s in services}
    assert set(codes) == set(Category.objects.filter(active=True).values_list("code", flat=True))
    assert codes["bulky_waste"]["metadata"] == "true"
    assert codes["litter"]["metadata"] == "false"
    assert all(s["type"] == "realtime" and s["service_name"] for s in services)

    definition = fms_parse(client.get(BASE + "services/bulky_waste.xml").content)
    assert definition["service_code"] == "bulky_waste"
    volume = next(a for a in definition["attributes"] if a["code"] == "volume")
    assert volume["datatype"] == "singlevaluelist"
    assert volume["variable"] == "true" and volume["required"] == "false"
    assert [v["key"] for v in volume["values"]] == ["small", "medium", "large"]
    assert volume["order"] == "1"


def test_fixmystreet_reads_the_id_of_a_new_request_and_its_errors(client, api_key):
    answer = fms_parse(
        client.post(
            BASE + "requests.xml",
            {
                "api_key": api_key,
                "jurisdiction_id": "dresden.de",
                "service_code": "bulky_waste",
                "lat": "51.0655",
                "long": "13.7535",
                "description": "title\n\ndetail\n\nhttps://fms.example/report/1\n",
                "first_name": "Anna",
                "last_name": "Beispiel",
                "email": "anna@example.org",
                "attribute[volume]": "medium",
                "attribute[fixmystreet_id]": "1",  # FixMyStreet sends attributes of its own
                "photo1": upload(jpeg_bytes()),
            },
        ).content
    )
    request_id = answer["request"][0]["service_request_id"]
    assert isinstance(request_id, str) and request_id.isdigit()
    assert Report.objects.get(pk=int(request_id)).attributes == {"volume": "medium"}

    errors = fms_parse(
        client.post(BASE + "requests.xml", {"api_key": "wrong-key-wrong-key"}).content
    )["error"]
    assert errors[0]["code"] == "403" and "api_key" in errors[0]["description"]


def test_fixmystreet_reads_requests_with_w3c_dates(client, reports):
    open_report, closed = reports
    parsed = fms_parse(
        client.get(
            BASE + "requests.xml",
            {
                "service_request_id": f"{open_report.pk},{closed.pk}",
                "jurisdiction_id": "dresden.de",
            },
        ).content
    )
    by_id = {int(r["service_request_id"]): r for r in parsed["request"]}
    assert by_id[open_report.pk]["status"] == "open"
    assert by_id[closed.pk]["status"] == "closed"
    assert by_id[closed.pk]["status_notes"] == "Weggeräumt."
    for request in by_id.values():
        for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert W3C_DATETIME.match(request[field]), request[field]
    assert by_id[open_report.pk]["address_id"] is None  # empty element, SuppressEmpty
