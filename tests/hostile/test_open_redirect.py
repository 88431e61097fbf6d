"""Every place that reads a `next` refuses to send the browser to another site."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVIL = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    " https://evil.example",
    "https:///evil.example",
]


def _not_away(response) -> None:
    location = response.get("Location", "")
    assert "evil.example" not in location and not location.startswith("javascript:")


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(username="mod", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("target", EVIL)
def test_staff_moderation_next_stays_on_site(staff_client, ticket, target):
    response = staff_client.post(
        f"/staff/reports/{ticket.pk}/moderate/", {"action": "hide", "reason": "x", "next": target}
    )
    assert response.status_code == 302
    _not_away(response)
    assert response["Location"] == f"/staff/reports/{ticket.pk}/"


def test_staff_moderation_next_on_site_is_kept(staff_client, ticket):
    response = staff_client.post(
        f"/staff/reports/{ticket.pk}/moderate/",
        {"action": "hide", "reason": "x", "next": "/staff/moderation/"},
    )
    assert response["Location"] == "/staff/moderation/"


@pytest.mark.parametrize("target", EVIL)
def test_dispatcher_action_next_stays_on_site(client, dispatcher, ticket, target):
    client.force_login(dispatcher)
    response = client.post(
        f"/dispatch/reports/{ticket.pk}/priority/", {"priority": "high", "next": target}
    )
    assert response.status_code == 302
    _not_away(response)


@pytest.mark.parametrize("url", ["/accounts/login/", "/dispatch/login/", "/admin/login/"])
@pytest.mark.parametrize("target", EVIL)
def test_login_next_stays_on_site(url, target, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="kim", password="pw-kim-123456", is_staff=True)
    client = Client()
    response = client.post(url, {"username": "kim", "password": "pw-kim-123456", "next": target})
    assert response.status_code == 302
    _not_away(response)
    # The GET form does not echo it into a link either.
    page = client.get(url, {"next": target})
    assert f'href="{target}' not in page.content.decode()


@pytest.mark.parametrize("target", EVIL)
def test_language_switch_next_stays_on_site(client, target):
    response = client.post("/i18n/setlang/", {"language": "en", "next": target})
    assert response.status_code == 302
    _not_away(response)
