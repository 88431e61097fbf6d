"""Rate limits count in Redis, shared by every process; without Redis they fall back to a
per-process count and never block or fail a submission."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.test import Client

from core.cache import FailoverRedisCache
from reports.models import Report
from tests.conftest import NEUSTADT_POINT

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REPORT = {"category": "litter", "lat": NEUSTADT_POINT.y, "lon": NEUSTADT_POINT.x}


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _submit(client: Client, email: str = "same@example.org"):
    return client.post("/api/v1/reports/", {**REPORT, "email": email})


# Another process (its own memory, the same settings and Redis) asks the same limit.
OTHER_PROCESS = """
import django, sys
django.setup()
from django.test import RequestFactory
from core.abuse import SubmitEmailThrottle
request = RequestFactory().post("/api/v1/reports/", {"email": "same@example.org"})
request.data = request.POST
print("allowed" if SubmitEmailThrottle().allow_request(request, None) else "refused")
"""


def test_the_limit_is_shared_with_another_process(settings):
    assert isinstance(caches["default"], FailoverRedisCache)
    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "3/hour"
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert _submit(Client(REMOTE_ADDR=address)).status_code == 201
    assert _submit(Client(REMOTE_ADDR="10.0.0.4")).status_code == 429

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicmap.settings",
        "REPORT_SUBMIT_RATE_PER_EMAIL": "3/hour",
        "CACHE_URL": settings.CACHES["default"]["LOCATION"],
    }
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert other.stdout.strip().splitlines()[-1] == "refused", other.stderr[-2000:]


def test_an_unreachable_redis_falls_back_to_a_per_process_limit(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "core.cache.FailoverRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "KEY_PREFIX": "cache:unreachable",
        },
    }
    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "3/hour"
    started = time.perf_counter()
    answers = [_submit(Client(REMOTE_ADDR=f"10.1.0.{n}")).status_code for n in range(1, 5)]
    assert answers == [201, 201, 201, 429]
    assert Report.objects.count() == 3
    # The limiter being down costs at most its connect timeout once, not a wait per request.
    assert time.perf_counter() - started < 20


def test_a_redis_that_dies_mid_way_never_fails_a_submission(settings, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings.REPORT_SUBMIT_RATE_PER_EMAIL = "10/hour"
    assert _submit(Client()).status_code == 201
    shared = caches["default"].shared

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    for name in ("get", "set", "add", "delete", "incr", "get_many", "set_many"):
        monkeypatch.setattr(shared, name, down)
    assert _submit(Client()).status_code == 201
    assert Report.objects.count() == 2
