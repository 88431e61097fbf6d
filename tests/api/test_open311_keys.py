"""Open311 API keys: the management command, the admin and the demo key."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from api.models import Open311Client
from demo.loaders import OPEN311_DEMO_KEY, open311_demo_key_load

pytestmark = pytest.mark.django_db

POST = {"service_code": "litter", "lat": "51.0655", "long": "13.7535"}


def _run(*args) -> str:
    out = StringIO()
    call_command("open311_keys", *args, stdout=out)
    return out.getvalue()


def _submit(key: str) -> int:
    return Client().post("/open311/v2/requests.json", {"api_key": key, **POST}).status_code


def test_create_prints_the_key_once_and_stores_only_its_digest():
    output = _run("create", "--name", "Back office", "--contact", "it@dresden.example")
    key = re.search(r"^  (\S+)$", output, re.MULTILINE).group(1)
    client = Open311Client.objects.get()
    assert client.name == "Back office" and client.active
    assert key not in (client.key_hash, client.key_prefix) and key.startswith(client.key_prefix)
    assert _submit(key) == 201
    assert key not in _run("list")
    assert "Back office" in _run("list")


def test_revoke_stops_the_key():
    key = re.search(r"^  (\S+)$", _run("create", "--name", "App"), re.MULTILINE).group(1)
    client = Open311Client.objects.get()
    assert "Revoked" in _run("revoke", str(client.pk))
    client.refresh_from_db()
    assert not client.active and client.revoked_at
    assert _submit(key) == 403
    assert "revoked" in _run("list")


def test_create_refuses_short_or_duplicate_keys():
    with pytest.raises(CommandError, match="at least 16"):
        _run("create", "--name", "X", "--key", "short")
    _run("create", "--name", "X", "--key", "a-long-enough-key-1")
    with pytest.raises(CommandError, match="already issued"):
        _run("create", "--name", "Y", "--key", "a-long-enough-key-1")


def test_demo_key_is_created_once_and_works():
    open311_demo_key_load()
    open311_demo_key_load()
    assert Open311Client.objects.count() == 1
    assert _submit(OPEN311_DEMO_KEY) == 201


def test_demo_logins_name_the_open311_endpoint_and_key():
    out = StringIO()
    call_command("civicmap_demo_logins", stdout=out)
    assert "/open311/v2/" in out.getvalue() and OPEN311_DEMO_KEY in out.getvalue()


def test_admin_issues_a_key_shown_once_and_can_revoke_it():
    admin = User.objects.create_superuser("keyadmin", "a@example.org", "pw-pw-pw-pw")
    browser = Client(headers={"Accept-Language": "en"})
    browser.force_login(admin)
    response = browser.post(
        "/admin/api/open311client/add/",
        {"name": "Mängelmelder", "contact": "", "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"])
    key = re.search(r"is: (\S+) ", message).group(1)
    assert _submit(key) == 201
    client = Open311Client.objects.get()
    browser.post(
        "/admin/api/open311client/",
        {"action": "revoke", "_selected_action": [client.pk]},
    )
    assert _submit(key) == 403
