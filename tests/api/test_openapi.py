"""The OpenAPI document tells the truth: openapi-spec-validator accepts it, every route is in it
(map layers as application/geo+json, tiles as application/vnd.mapbox-vector-tile), and
schemathesis (pinned, fixed seed, every check, every phase including the stateful one) finds
nothing as an anonymous client, a dispatcher and a crew member. `make fuzz` runs the same with
many more examples."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from django.contrib.gis.geos import Point
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.middleware.csrf import CSRF_SESSION_KEY
from openapi_spec_validator import validate
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crews.models import DISPATCHER_GROUP
from crews.services import report_dispatch
from reports.services import report_create

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# A few examples per operation keep the three runs within a couple of minutes; `make fuzz`
# sets FUZZ_EXAMPLES much higher.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
# The coverage phase (boundary values of every parameter) takes minutes: `make fuzz` adds it.
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing,stateful")
CSRF_SECRET = "k" * 32


def _schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_schema_is_valid_openapi_with_every_route():
    schema = _schema(APIClient())
    validate(schema)  # raises on any error
    paths = schema["paths"]
    layer = paths["/api/v1/map/reports.geojson"]["get"]["responses"]["200"]["content"]
    assert "application/geo+json" in layer
    tile = paths["/api/v1/tiles/reports/{z}/{x}/{y}.pbf"]["get"]["responses"]["200"]["content"]
    assert "application/vnd.mapbox-vector-tile" in tile
    for path in (
        "/api/v1/map/reports/{pk}.geojson",
        "/api/v1/map/districts.geojson",
        "/api/v1/tiles/events/{z}/{x}/{y}.pbf",
        "/open311/v2/servicerequestupdates.{fmt}",
    ):
        assert path in paths
    # Open311 answers JSON arrays, as the spec (rightly) says.
    services = paths["/open311/v2/services.{fmt}"]["get"]["responses"]["200"]["content"]
    assert services["application/json"]["schema"]["type"] == "array"
    # Every operation documents its errors.
    for path, item in paths.items():
        for method, operation in item.items():
            if path.startswith("/api/v1/") and path in ("/api/v1/reports/",):
                assert {"400", "429"} <= set(operation["responses"]), (path, method)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[]", '"x"', "1", '[{"reason": "x"}]', "null"])
def test_the_flag_endpoint_refuses_a_body_that_is_no_object(body):
    caches["default"].clear()
    report, _ = report_create(category="litter", location=Point(13.7535, 51.0655, srid=4326))
    response = APIClient().post(
        f"/api/v1/reports/{report.pk}/flag/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert not report.flags.exists()


def _session_for(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[CSRF_SESSION_KEY] = CSRF_SECRET
    session.create()
    return session.session_key


def _auth(kind: str) -> tuple[str, list[str]]:
    """(config lines for schemathesis, extra CLI headers) for one kind of user."""
    if kind == "dispatcher":
        user = User.objects.create_user("fuzz-dispatcher", "d@example.org", "x")
        user.groups.add(Group.objects.get(name=DISPATCHER_GROUP))
        config = f'[auth.openapi.cookieAuth]\napi_key = "{_session_for(user)}"\n'
        return config, ["-H", f"X-CSRFToken: {CSRF_SECRET}"]
    if kind == "crew":
        user = User.objects.get(username="crew-nord")
        token, _ = Token.objects.get_or_create(user=user)
        return f'[auth.openapi.tokenAuth]\napi_key = "Token {token.key}"\n', []
    return "", []


def _some_data() -> None:
    for category in ("litter", "bulky_waste", "hazardous"):
        report, _ = report_create(
            category=category,
            location=Point(13.7535, 51.0655, srid=4326),
            description="Fuzz",
            photo_url="https://example.org/p.jpg" if category == "bulky_waste" else "",
        )
        report_dispatch(report=report)


def _run(kind: str, live_server, tmp_path: Path) -> str:
    auth, headers = _auth(kind)
    config = tmp_path / f"schemathesis-{kind}.toml"
    config.write_text((ROOT / "schemathesis.toml").read_text() + "\n" + auth)
    caches["default"].clear()  # rate limits start afresh for each kind of user
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--url",
        live_server.url,
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "1",
        "--no-color",
        *headers,
    ]
    # In tmp_path: schemathesis keeps a cache of what it found in its working directory.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path
    )
    return f"== {kind}: exit {done.returncode}\n{done.stdout}{done.stderr[-2000:]}"


def test_schemathesis_finds_no_failure_for_three_kinds_of_user(
    live_server, dresden_committed, settings, tmp_path
):
    # The session carries the CSRF secret, so a dispatcher's POST passes Django's CSRF check
    # with the X-CSRFToken header alone (the check itself stays on).
    settings.CSRF_USE_SESSIONS = True
    _some_data()
    outputs = [_run(kind, live_server, tmp_path) for kind in ("anonymous", "dispatcher", "crew")]
    for output in outputs:
        print(output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-3000:])
    failed = [o for o in outputs if not o.split("\n", 1)[0].endswith("exit 0")]
    assert not failed, "\n\n".join(o[-12000:] for o in failed)
