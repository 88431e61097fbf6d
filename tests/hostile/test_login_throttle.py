"""Brute force on every login surface: 40 wrong passwords lock it, the right one is then refused
until the lock ends, staff can unlock, and every attempt is on record."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    """A cheap hasher keeps 40 attempts per surface quick; the throttle does not care."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def victim(_fast_hasher) -> User:
    return UserFactory(username="victim", password=PASSWORD, is_staff=True)


def _right_password(client: Client):
    return client.post("/accounts/login/", {"username": "victim", "password": PASSWORD})


def _html_login(url: str):
    def attempt(client: Client, username: str, password: str, **extra):
        return client.post(url, {"username": username, "password": password}, **extra)

    def logged_in(client: Client, response) -> bool:
        return response.status_code == 302 and "_auth_user_id" in client.session

    return attempt, logged_in


def _token_login():
    def attempt(client: Client, username: str, password: str, **extra):
        return client.post(
            "/api/v1/crew/token/", {"username": username, "password": password}, **extra
        )

    def logged_in(client: Client, response) -> bool:
        return response.status_code == 200 and "token" in response.json()

    return attempt, logged_in


SURFACES = {
    "login page": lambda: _html_login("/accounts/login/"),
    "dispatcher sign-in": lambda: _html_login("/dispatch/login/"),
    "admin login": lambda: _html_login("/admin/login/?next=/admin/"),
    "crew token api": _token_login,
}


@pytest.mark.parametrize("surface", SURFACES)
def test_forty_wrong_passwords_lock_the_surface_and_the_right_one_waits(surface, victim):
    attempt, logged_in = SURFACES[surface]()
    client = Client()
    for _ in range(40):
        response = attempt(client, "victim", "wrong-password")
        assert not logged_in(client, response)
    assert response.status_code == 429

    refused = attempt(client, "victim", PASSWORD, HTTP_ACCEPT_LANGUAGE="de")
    assert refused.status_code == 429 and not logged_in(client, refused)
    text = refused.content.decode()
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in text and "gesperrt bis" in text
    assert int(refused["Retry-After"]) == 15 * 60
    if surface == "crew token api":
        assert refused.json()["code"] == "login_locked" and "token" not in refused.json()

    # The lock ends one cool-off after the last refused attempt: then the password works.
    last = AccessAttempt.objects.get().attempt_time
    AccessAttempt.objects.update(attempt_time=last - timedelta(minutes=16))
    assert logged_in(client, attempt(client, "victim", PASSWORD))


def test_lockout_message_in_english(victim):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(6):
        response = client.post("/accounts/login/", {"username": "victim", "password": "nope"})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "locked until" in response.content.decode()


def test_lock_is_per_user_name_from_any_address(victim, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR=f"10.0.0.{n + 1}").post(
            "/accounts/login/", {"username": "victim", "password": "nope"}
        )
    elsewhere = Client(REMOTE_ADDR="10.9.9.9")
    response = elsewhere.post("/accounts/login/", {"username": "victim", "password": PASSWORD})
    assert response.status_code == 429 and "_auth_user_id" not in elsewhere.session


def test_lock_is_per_address_whatever_the_user_name(victim, settings):
    attacker = Client(REMOTE_ADDR="10.6.6.6")
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/accounts/login/", {"username": f"guess{n}", "password": "nope"})
    response = attacker.post("/accounts/login/", {"username": "victim", "password": PASSWORD})
    assert response.status_code == 429
    # The victim at home is not locked out by someone else's address.
    home = Client(REMOTE_ADDR="10.1.1.1")
    assert _right_password(home).status_code == 302


def test_the_limit_is_configurable(victim, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "victim", "password": "nope"})
    assert _right_password(client).status_code == 429


def test_staff_unlock_in_the_admin(victim):
    attacker = Client()
    for _ in range(10):
        attacker.post("/accounts/login/", {"username": "victim", "password": "nope"})
    assert AccessAttempt.objects.filter(username="victim").exists()

    admin = Client()
    admin.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "victim" in listing.content.decode()
    attempt_ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    unlocked = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempt_ids, "post": "yes"},
    )
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _right_password(attacker).status_code == 302


def test_every_attempt_is_logged(victim):
    client = Client()
    for _ in range(3):
        client.post("/accounts/login/", {"username": "victim", "password": "nope"})
    client.post("/accounts/login/", {"username": "victim", "password": PASSWORD})
    assert AccessFailureLog.objects.filter(username="victim").count() == 3
    assert AccessLog.objects.filter(username="victim").count() == 1


BASIC_WITH_NUL = "Basic YQBiOng="  # "a\0b:x"


def test_http_basic_is_not_an_api_login(victim):
    import base64

    good = "Basic " + base64.b64encode(f"victim:{PASSWORD}".encode()).decode()
    for header in (good, BASIC_WITH_NUL):
        client = Client(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/categories/").status_code == 200
        refused = client.get("/api/v1/crew/tickets/")
        assert refused.status_code in (401, 403)
        assert refused["Content-Type"].startswith("application/json")
        assert "detail" in refused.json()


@pytest.mark.parametrize("url", ["/accounts/password_change/", "/admin/password_change/"])
def test_guessing_the_old_password_of_a_password_change_is_locked_like_a_login(
    victim, settings, url
):
    """A stolen session cannot try old passwords without limit to take the account over."""
    client = Client()
    client.force_login(victim)
    page = client.get(url)
    assert page.status_code == 200 and 'name="old_password"' in page.content.decode()

    def change(old: str):
        return client.post(
            url,
            {
                "old_password": old,
                "new_password1": "new-horse-1234",
                "new_password2": "new-horse-1234",
            },
        )

    wrong = change("not-the-password")
    assert wrong.status_code == 200  # the form again, with its error
    for _ in range(settings.AXES_FAILURE_LIMIT):
        change("not-the-password")
    locked = change(PASSWORD)  # even the right one, while locked
    assert locked.status_code == 429
    victim.refresh_from_db()
    assert victim.check_password(PASSWORD)  # unchanged
    assert AccessAttempt.objects.filter(username="victim").exists()


def test_the_right_old_password_changes_it(victim):
    client = Client()
    client.force_login(victim)
    done = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "new-horse-1234",
            "new_password2": "new-horse-1234",
        },
    )
    assert done.status_code == 302
    victim.refresh_from_db()
    assert victim.check_password("new-horse-1234")
