"""Hardening: a Content-Security-Policy on every response, secure cookies, and a clean
`manage.py check --deploy` with production settings."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from core.middleware import policy
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/report/new/",
    "/events/",
    "/map/reports.geojson",
    "/accounts/login/",
    "/admin/login/",
    "/api/docs/",
    "/api/v1/reports/",
    "/open311/v2/services.json",
    "/dispatch/login/",
    "/crew/",
    "/staff/",
    "/does-not-exist/",
]


def _directives(header: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in header.split("; ")}


@pytest.mark.parametrize("url", PAGES)
def test_every_response_carries_the_policy(client, url):
    response = client.get(url)
    header = response["Content-Security-Policy"]
    directives = _directives(header)
    nonce = [s for s in directives["script-src"] if s.startswith("'nonce-")]
    assert directives["script-src"] == ["'self'", *nonce] and len(nonce) == 1
    assert directives["style-src"] == ["'self'", *nonce]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    # The tile server is the only third party, and only for images.
    assert directives["img-src"] == ["'self'", "data:", "blob:", "https://tile.openstreetmap.org"]
    assert "unsafe-inline" not in " ".join(directives["script-src"] + directives["style-src"])
    assert "unsafe-eval" not in header


def test_nonce_is_new_on_every_request_and_marks_the_map_blocks(client):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    first = client.get(f"/reports/{report.pk}/")
    second = client.get(f"/reports/{report.pk}/")
    nonces = [
        _directives(r["Content-Security-Policy"])["script-src"][1][len("'nonce-") : -1]
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    page = first.content.decode()
    # Every inline <script> of the folium map carries this request's nonce.
    for chunk in page.split("<script")[1:]:
        tag = chunk.split(">", 1)[0]
        if "src=" not in tag and "application/json" not in tag:
            assert f'nonce="{nonces[0]}"' in tag, tag


def test_the_tile_server_from_settings_is_the_image_host(settings):
    settings.MAP_TILE_URL = "https://{s}.tiles.example.net/{z}/{x}/{y}.png"
    assert "img-src 'self' data: blob: https://*.tiles.example.net" in policy("n")


def test_session_and_csrf_cookies_are_httponly_and_samesite(client):
    user = UserFactory(username="cookie-check", is_staff=True)
    user.set_password("pw-for-tests-only")
    user.save()
    response = client.post(
        "/accounts/login/", {"username": "cookie-check", "password": "pw-for-tests-only"}
    )
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert settings.CSRF_COOKIE_SAMESITE == "Lax"


def test_forms_carry_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/report/new/").content.decode()
    assert "csrfmiddlewaretoken" in page


def test_check_deploy_is_clean_with_production_settings():
    # The test run's own DJANGO_ALLOW_ASYNC_UNSAFE (for Playwright) is no production setting.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **env,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "-production-secret-" + "y" * 30,
        "ALLOWED_HOSTS": "civicmap.example.org",
        "HTTPS": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_https_settings_turn_on_hsts_secure_cookies_and_redirect():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    env = {**os.environ, "DEBUG": "0", "HTTPS": "1", "DJANGO_SETTINGS_MODULE": "civicmap.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True"] * 5, result.stderr
