"""Fault drills against real servers: a private redis-server (the broker, tile cache and live
channel), real Celery worker and beat processes, and for the last drill a private PostgreSQL
cluster behind a real web server. Each drill prints what it observed (`-s` shows it):

- Redis down during submissions: every answer 2xx, every report stored and routed, photos and
  mails done by the sweep once Redis is back;
- a worker killed (-9) in the middle of a photo: the photo is processed after a new worker
  starts (redelivered after the visibility timeout, or sent again by the sweep);
- Redis restarted (without persistence) with photo tasks queued: the messages are gone, the
  sweep sends them again;
- PostgreSQL restarted in the middle of submissions: clients get JSON 503s with Retry-After,
  never a 500; every acknowledged report is stored and routed; a retry with the same key
  returns the routed report and nothing is stored twice.

The sweep runs every second for what is pending longer than 3 s (OUTBOX_SWEEP_SECONDS,
OUTBOX_SWEEP_AGE_SECONDS), the visibility timeout is 5 s: the drills take seconds, not minutes.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from rest_framework.test import APIClient

from api.open311.keys import client_create
from civicmap.celery import app as celery_app
from reports import live, outbox, tilecache
from reports.models import OutboxItem, Report, ReportEvent, ReportPhoto
from tests.conftest import database_url_for_subprocess, jpeg_bytes, upload
from tests.faults.infra import (
    CeleryProcess,
    PostgresCluster,
    RedisServer,
    free_port,
    wait_for,
)

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUES = "celery,photos,notifications"
SWEEP = {"OUTBOX_SWEEP_SECONDS": "1", "OUTBOX_SWEEP_AGE_SECONDS": "3", "OUTBOX_RETRY_SECONDS": "1"}
RECOVERY_TIMEOUT = 90
LAT, LON = 51.0655, 13.7535


def say(drill: str, **figures) -> None:
    print(f"\n[drill] {drill}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def redis_server(folder):
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def env(redis_server, folder, django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
    return {
        **os.environ,
        **SWEEP,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_server.url,
        "TILE_CACHE_URL": redis_server.url,
        "LIVE_REDIS_URL": redis_server.url,
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "MEDIA_ROOT": str(folder / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="module")
def beat(env, folder):
    process = CeleryProcess("beat", env, folder / "beat.log")
    yield process
    process.stop()


def _reset_celery_connections() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def here(redis_server, folder, settings, monkeypatch, dresden_committed):
    """This process submits as a web process would: broker, tile cache and live channel on the
    private Redis, photos where the worker reads them."""
    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url)
    celery_app.conf.task_always_eager = False
    _reset_celery_connections()
    settings.CACHES = {
        **settings.CACHES,
        "tiles": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        },
    }
    caches["tiles"].close()
    settings.LIVE_REDIS_URL = redis_server.url
    for key, value in SWEEP.items():
        setattr(settings, key, float(value))
    media = folder / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media / "public", "base_url": "/media/"},
        },
        "private": {
            "BACKEND": "core.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": media / "private", "base_url": None},
        },
    }
    for state in (outbox._send_state, tilecache._state, live._state):
        state["down_until"] = 0.0
    yield
    celery_app.conf.task_always_eager = True
    _reset_celery_connections()
    caches["tiles"].close()


def _routed(report: Report) -> bool:
    return report.due_at is not None and (
        report.assignments.filter(active=True).exists()
        or report.events.filter(kind=ReportEvent.Kind.UNASSIGNED).exists()
    )


def _submit_api(size=(640, 480), email="") -> tuple[int, int | None]:
    response = APIClient().post(
        "/api/v1/reports/",
        {
            "category": "litter",
            "lat": LAT,
            "lon": LON,
            "email": email,
            "photo": upload(jpeg_bytes(size=size)),
        },
        format="multipart",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    return response.status_code, response.json().get("id") if response.status_code < 300 else None


def _submit_form(email="") -> tuple[int, int | None]:
    key = uuid.uuid4().hex
    response = Client().post(
        "/report/new/",
        {
            "category": "litter",
            "lat": LAT,
            "lon": LON,
            "description": "Müll am Zaun",
            "email": email,
            "idempotency_key": key,
            "photo": upload(jpeg_bytes(size=(640, 480))),
        },
    )
    location = response["Location"] if response.status_code == 302 else ""
    token = location.split("/r/")[-1].split("/")[0].split("?")[0]
    found = Report.objects.filter(tracking_token=token).values_list("pk", flat=True).first()
    return response.status_code, found


def _submit_open311(api_key: str) -> tuple[int, int | None]:
    response = Client().post(
        "/open311/v2/requests.json",
        {
            "api_key": api_key,
            "service_code": "litter",
            "lat": LAT,
            "long": LON,
            "media": upload(jpeg_bytes(size=(640, 480))),
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    body = response.json() if response.status_code < 300 else None
    return response.status_code, body[0]["service_request_id"] if body else None


def _all_photos_ready(ids) -> bool:
    photos = ReportPhoto.objects.filter(report_id__in=ids)
    return photos.exists() and not photos.exclude(state=ReportPhoto.State.READY).exists()


def _outbox_done(ids) -> bool:
    return not OutboxItem.objects.filter(report_id__in=ids, done_at__isnull=True).exists()


def _worker(env, folder, name: str) -> CeleryProcess:
    worker = CeleryProcess("worker", env, folder / f"{name}.log", queues=QUEUES)
    wait_for(lambda: " ready." in worker.text(), 60, f"worker {name} to start")
    return worker


def test_redis_down_during_submissions(here, env, beat, folder, redis_server):
    worker = _worker(env, folder, "worker-redis-down")
    try:
        api_key = client_create(name="Drill client", contact="it@example.org")[1]
        up_started = time.monotonic()
        baseline = [_submit_api(), _submit_form(), _submit_open311(api_key)]
        up_seconds = time.monotonic() - up_started
        assert all(pk for _, pk in baseline)
        redis_server.stop()
        started = time.monotonic()
        answers = []
        for i in range(4):
            answers.append(("api",) + _submit_api(email=f"a{i}@example.org"))
            answers.append(("form",) + _submit_form(email=f"f{i}@example.org"))
            answers.append(("open311",) + _submit_open311(api_key))
        submit_seconds = time.monotonic() - started
        statuses = sorted({status for _, status, _ in answers})
        ids = [pk for _, _, pk in answers if pk]
        reports = list(Report.objects.filter(pk__in=ids))
        routed = sum(_routed(r) for r in reports)
        pending = ReportPhoto.objects.filter(report_id__in=ids, state="pending").count()
        assert statuses in ([201, 302], [201], [302]), answers
        assert len(ids) == len(answers) == len(reports) == routed == 12

        redis_server.start()
        back = time.monotonic()
        wait_for(
            lambda: _all_photos_ready(ids) and _outbox_done(ids),
            RECOVERY_TIMEOUT,
            "photos and outbox after Redis came back",
        )
        recovery = time.monotonic() - back
        say(
            "Redis down during submissions",
            submitted=len(answers),
            answered=statuses,
            stored=len(reports),
            routed=routed,
            photos_pending_while_down=pending,
            photos_processed=ReportPhoto.objects.filter(report_id__in=ids, state="ready").count(),
            outbox_items_done=OutboxItem.objects.filter(report_id__in=ids).count(),
            seconds_per_submission_redis_up=round(up_seconds / 3, 2),
            seconds_per_submission_redis_down=round(submit_seconds / len(answers), 2),
            seconds_to_recover_after_redis_back=round(recovery, 1),
        )
    finally:
        worker.stop()


def test_worker_killed_mid_task(here, env, beat, folder, redis_server):
    worker = _worker(env, folder, "worker-killed")
    replacement = None
    try:
        ids = [_submit_api(size=(2400, 1800))[1] for _ in range(3)]
        client = redis_server.client()
        wait_for(lambda: client.hlen("unacked") > 0, 30, "the worker to hold a photo task")
        worker.kill9()
        killed = time.monotonic()
        unfinished = ReportPhoto.objects.filter(report_id__in=ids).exclude(state="ready").count()
        assert unfinished >= 1
        replacement = _worker(env, folder, "worker-replacement")
        wait_for(lambda: _all_photos_ready(ids), RECOVERY_TIMEOUT, "photos after the kill")
        recovery = time.monotonic() - killed
        say(
            "worker killed (-9) mid-task",
            submitted=len(ids),
            photos_unfinished_at_kill=unfinished,
            photos_processed=ReportPhoto.objects.filter(report_id__in=ids, state="ready").count(),
            seconds_from_kill_to_all_processed=round(recovery, 1),
        )
    finally:
        worker.stop()
        if replacement is not None:
            replacement.stop()


def test_broker_restarted_with_queued_tasks(here, env, beat, folder, redis_server):
    client = redis_server.client()
    client.flushdb()  # what earlier drills left (duplicate messages) does not count here
    ids = [_submit_api()[1] for _ in range(5)]  # no worker yet: the tasks wait in Redis
    queued = client.llen("photos")
    assert queued == 5
    redis_server.stop()
    redis_server.start()  # no persistence: the queued messages are gone
    lost = queued - client.llen("photos")
    restarted = time.monotonic()
    worker = _worker(env, folder, "worker-after-restart")
    try:
        wait_for(lambda: _all_photos_ready(ids), RECOVERY_TIMEOUT, "photos after the restart")
        recovery = time.monotonic() - restarted
        say(
            "broker restarted with queued tasks",
            photo_tasks_queued=queued,
            messages_lost=lost,
            photos_processed=ReportPhoto.objects.filter(report_id__in=ids, state="ready").count(),
            seconds_from_restart_to_all_processed=round(recovery, 1),
        )
        assert lost == 5
    finally:
        worker.stop()


# --- PostgreSQL restarted under load -----------------------------------------------------------


@pytest.fixture
def web_on_private_postgres(folder, redis_server):
    cluster = PostgresCluster()
    web = None
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(
            f"host=127.0.0.1 port={cluster.port} user=civicmap dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE drill")
        with psycopg.connect(
            f"host=127.0.0.1 port={cluster.port} user=civicmap dbname=drill", autocommit=True
        ) as conn:
            conn.execute("CREATE EXTENSION postgis")
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url("drill"),
            "CELERY_BROKER_URL": redis_server.url,
            "TILE_CACHE_URL": redis_server.url,
            "LIVE_REDIS_URL": redis_server.url,
            "MEDIA_ROOT": str(folder / "media-pg"),
            "MAP_FAST_PATH": "0",
            "REPORT_SUBMIT_RATE_PER_IP": "",
            "REPORT_SUBMIT_RATE_PER_EMAIL": "",
            "PYTHONUNBUFFERED": "1",
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "migrate", "-v0"],
            env=env,
            cwd=settings.BASE_DIR,
            check=True,
            timeout=180,
            capture_output=True,
        )
        loader = (
            "from demo.loaders import categories_crews_users_load, districts_load; "
            "districts_load(); categories_crews_users_load()"
        )
        subprocess.run(
            [*manage, "shell", "-c", loader],
            env=env,
            cwd=settings.BASE_DIR,
            check=True,
            timeout=180,
            capture_output=True,
        )
        port = free_port()
        log = (folder / "web.log").open("a")
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "civicmap.asgi:application",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                answer = urllib.request.urlopen(f"{base}/api/v1/categories/", timeout=2)  # noqa: S310
                return answer.status == 200
            except OSError:
                return False

        wait_for(up, 60, "the web server")
        yield cluster, base
    finally:
        if web is not None and web.poll() is None:
            web.terminate()
            web.wait(timeout=10)
        cluster.stop()


def _lower(headers) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def _post(base: str, key: str) -> tuple[int, dict, dict]:
    data = urllib.parse.urlencode({"category": "litter", "lat": LAT, "lon": LON}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own test server
        f"{base}/api/v1/reports/", data=data, headers={"Idempotency-Key": key}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, json.loads(response.read()), _lower(response.headers)
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"not_json": body[:200].decode(errors="replace")}
        return error.code, parsed, _lower(error.headers)
    except OSError as error:
        return 0, {"connection": str(error)}, {}


def test_postgres_restarted_mid_submission(web_on_private_postgres):
    cluster, base = web_on_private_postgres
    clients, per_client = 8, 6
    answers: list[tuple[str, int, dict, dict]] = []
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()

    def resident(n: int) -> None:
        for _ in range(per_client):
            key = uuid.uuid4().hex
            for _attempt in range(60):
                status, body, headers = _post(base, key)
                with lock:
                    answers.append((key, status, body, headers))
                if status in (200, 201):
                    with lock:
                        acknowledged[key] = body["id"]
                    break
                time.sleep(float(headers.get("retry-after", 1)) / 30)  # 1 s, sped up

    threads = [threading.Thread(target=resident, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    before_restart = time.monotonic()
    cluster.restart_fast()
    restart_seconds = time.monotonic() - before_restart
    for thread in threads:
        thread.join(timeout=180)
    total_seconds = time.monotonic() - started

    statuses: dict[int, int] = {}
    for _, status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    errors = [(k, s, b, h) for k, s, b, h in answers if s not in (200, 201)]

    def story(key: str) -> list:
        """What this key's submission got, try after try (for a failure's message)."""
        return [(s, b.get("id") or b.get("detail") or b) for k, s, b, _ in answers if k == key]

    assert 500 not in statuses, [story(k) for k, *_ in errors]
    for key, status, body, headers in errors:
        assert status == 503 and "detail" in body and headers.get("retry-after"), story(key)
    assert len(acknowledged) == clients * per_client

    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=civicmap dbname=drill") as conn:
        stored = conn.execute("SELECT count(*) FROM reports_report").fetchone()[0]
        unrouted = conn.execute(
            """SELECT count(*) FROM reports_report r WHERE r.due_at IS NULL OR NOT (
                 EXISTS (SELECT 1 FROM crews_assignment a WHERE a.report_id = r.id AND a.active)
                 OR EXISTS (SELECT 1 FROM reports_reportevent e
                            WHERE e.report_id = r.id AND e.kind = 'unassigned'))"""
        ).fetchone()[0]
    assert stored == len(acknowledged) and unrouted == 0
    keys = list(acknowledged)[:10]
    replays = [_post(base, key) for key in keys]
    assert all(
        s == 200 and b["id"] == acknowledged[k] and b["properties"]["crew"]
        for (s, b, _), k in zip(replays, keys, strict=True)
    ), replays
    say(
        "PostgreSQL restarted (fast) mid-submission",
        clients=clients,
        submissions=clients * per_client,
        answers=dict(sorted(statuses.items())),
        acknowledged=len(acknowledged),
        stored=stored,
        unrouted=unrouted,
        replays_same_routed_report=len(replays),
        restart_seconds=round(restart_seconds, 1),
        total_seconds=round(total_seconds, 1),
    )
