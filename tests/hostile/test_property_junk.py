"""Property-based: generated junk (NUL and control characters, huge strings, odd Unicode, wrong
types, missing fields) thrown at every form and API input. Whatever comes, the answer is below
500; a refusal is a 4xx that says why, and a refused submission stores nothing.

Derandomized (the same examples every run) and few examples per input, so the suite stays
well under a minute and a half."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.open311.keys import client_create
from reports.models import Report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

JUNK_SETTINGS = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a client could send: control characters (NUL too), odd Unicode (no lone surrogates:
# they cannot be encoded in a request at all), numbers that are not, huge strings.
odd_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x10FFFF), max_size=60
)
control_text = st.text(alphabet=st.sampled_from("\x00\x01\x08\x0b\x1b\x7f\u202e\ufeff\u2028a"))
numberish = st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "1e309", "-0", "0x10", "51,05", "", " ", "13.7.1", "١٢"]
)
huge = st.sampled_from(["x" * 5000, "ä" * 70_000, "\x00" * 1000, "9" * 400])
junk_text = st.one_of(odd_text, control_text, numberish, huge)
# Wrong types for JSON bodies.
junk_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), junk_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(odd_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _form(fields: list[str]):
    """Some of the fields (others missing), each with junk."""
    return st.dictionaries(st.sampled_from(fields), junk_text, max_size=len(fields))


@pytest.fixture(autouse=True)
def _no_limits(settings):
    for name in (
        "REPORT_SUBMIT_RATE_PER_IP",
        "REPORT_SUBMIT_RATE_PER_EMAIL",
        "REPORT_FLAG_RATE_PER_IP",
        "OPEN311_POST_RATE_PER_IP",
        "OPEN311_POST_RATE_PER_KEY",
        "REPORT_SUBMIT_RATE",
    ):
        setattr(settings, name, "1000000/hour")
    settings.AXES_FAILURE_LIMIT = 1_000_000
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def _check(response, *, submits: bool, before: int) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        body = response.content.decode("utf-8", "replace")
        assert len(body.strip()) >= 10
        if response["Content-Type"].startswith("application/json"):
            data = json.loads(body)
            assert data, body
        if submits:
            assert Report.objects.count() == before


def _client() -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.raise_request_exception = False
    return client


@JUNK_SETTINGS
@given(data=_form(["category", "lat", "lon", "description", "email", "website"]))
def test_api_submission_takes_any_junk(data):
    before = Report.objects.count()
    _check(_client().post("/api/v1/reports/", data), submits=True, before=before)


@JUNK_SETTINGS
@given(
    data=_form(
        [
            "category",
            "lat",
            "lon",
            "district",
            "place",
            "description",
            "email",
            "idempotency_key",
            "website",
        ]
    )
)
def test_html_form_takes_any_junk(data):
    before = Report.objects.count()
    _check(_client().post("/report/new/", data), submits=True, before=before)


@JUNK_SETTINGS
@given(
    data=_form(
        [
            "service_code",
            "lat",
            "long",
            "description",
            "email",
            "first_name",
            "last_name",
            "phone",
            "address_string",
            "media_url",
            "attribute[x]",
        ]
    ),
)
def test_open311_submission_takes_any_junk(data, open311_key):
    before = Report.objects.count()
    response = _client().post("/open311/v2/requests.json", {"api_key": open311_key, **data})
    _check(response, submits=True, before=before)
    if response.status_code >= 400:
        assert response.json()[0]["description"]


@JUNK_SETTINGS
@given(key=junk_text)
def test_idempotency_key_header_takes_any_junk(key):
    before = Report.objects.count()
    headers = {"Idempotency-Key": key.replace("\n", " ").replace("\r", " ")}
    response = _client().post("/api/v1/reports/", {"category": "litter"}, headers=headers)
    _check(response, submits=True, before=before)


@JUNK_SETTINGS
@given(
    params=_form(
        [
            "bbox",
            "category",
            "status",
            "district",
            "page",
            "page_size",
            "q",
            "lat",
            "lon",
            "from",
            "to",
            "near",
            "radius",
        ]
    )
)
def test_read_parameters_take_any_junk(params):
    client = _client()
    for url in (
        "/api/v1/reports/",
        "/api/v1/route/",
        "/api/v1/events/",
        "/api/v1/map/reports.geojson",
        "/open311/v2/requests.json",
        "/events/",
    ):
        _check(client.get(url, params), submits=False, before=0)


@JUNK_SETTINGS
@given(data=_form(["username", "password"]))
def test_login_surfaces_take_any_junk(data):
    client = _client()
    for url in ("/api/v1/crew/token/", "/accounts/login/"):
        _check(client.post(url, data), submits=False, before=0)


@JUNK_SETTINGS
@given(body=junk_json, params=_form(["crew", "category", "status", "lat", "lon"]))
def test_crew_api_takes_any_junk(body, params, crew_member, ticket):
    client = _client()
    client.force_login(crew_member)
    _check(client.get("/api/v1/crew/tickets/", params), submits=False, before=0)
    for action in ("start", "close", "reject", "duplicate"):
        response = client.post(
            f"/api/v1/crew/tickets/{ticket.pk}/{action}/",
            json.dumps(body),
            content_type="application/json",
        )
        _check(response, submits=False, before=0)


@pytest.fixture
def open311_key(db):
    return client_create(name="property")[1]


@pytest.fixture
def crew_member(db):
    return UserFactory(username="crew-nord")
