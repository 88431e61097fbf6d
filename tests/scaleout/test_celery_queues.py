"""Two real Celery workers on separate queues (docs/scaling.md): one serves only `photos`, the
other `celery,notifications,imports`. Tasks land on the worker of their queue, and the photo
worker reserves one photo at a time and acknowledges it only after the work (acks_late)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from civicmap.celery import app as celery_app
from events.models import Event
from events.tasks import event_feed_import_task
from reports.models import ReportPhoto
from reports.services import report_create
from tests.conftest import (
    NEUSTADT_POINT,
    TEST_BROKER_URL,
    database_url_for_subprocess,
    jpeg_bytes,
    upload,
)
from tests.events.helpers import calendar, local, vevent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HOST = socket.gethostname()
PHOTOS = f"photos@{HOST}"
GENERAL = f"general@{HOST}"
QUEUES = {PHOTOS: "photos", GENERAL: "celery,notifications,imports"}
START_TIMEOUT = 40
TASK_TIMEOUT = 40


class Worker:
    def __init__(self, name: str, queues: str, log: Path, env: dict):
        self.name, self.log, self._offset = name, log, 0
        self._handle = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "civicmap",
                "worker",
                "-n",
                name,
                "-Q",
                queues,
                "--pool",
                "solo",
                # The prefetch count is multiplier x concurrency, and concurrency defaults to the
                # number of CPUs even for the solo pool.
                "--concurrency",
                "1",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        """The worker's log since the current test began."""
        return self.log.read_text(errors="replace")[self._offset :]

    def mark(self) -> None:
        self._offset = 0
        self._offset = len(self.text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._handle.close()


def _logs(workers: dict[str, Worker]) -> str:
    return "\n".join(f"--- {name} ---\n{w.text()}" for name, w in workers.items())


def _wait(condition, workers: dict[str, Worker], what: str, timeout: float = TASK_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [w.name for w in workers.values() if w.process.poll() is not None]
        if dead:
            pytest.fail(f"worker {dead} exited while waiting for {what}:\n{_logs(workers)}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{_logs(workers)}")


@pytest.fixture(scope="module")
def broker():
    client = redis.Redis.from_url(TEST_BROKER_URL)
    client.flushdb()
    celery_app.conf.task_always_eager = False
    yield client
    celery_app.conf.task_always_eager = True
    client.flushdb()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def started_workers(broker, media, django_db_setup, django_db_blocker):
    """Started once for the module (a worker takes seconds to start); the tests' transactional
    data is committed, so the workers see it."""
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "MEDIA_ROOT": str(media),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    }
    started: dict[str, Worker] = {}
    try:
        for name, queues in QUEUES.items():
            started[name] = Worker(name, queues, media / f"{name.split('@')[0]}.log", env)
        _wait(
            lambda: all(" ready." in w.text() for w in started.values()),
            started,
            "both workers to be ready",
            timeout=START_TIMEOUT,
        )
        yield started
    finally:
        for worker in started.values():
            worker.stop()


@pytest.fixture
def workers(started_workers, dresden_committed, media, settings, broker):
    """The workers, with this process storing photos where the workers read them."""
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
    for worker in started_workers.values():
        worker.mark()
    return started_workers


def _report_with_photo(size=(1600, 1200), email=""):
    report, _ = report_create(
        category="litter",
        location=NEUSTADT_POINT,
        description="Müll an der Ecke",
        photos=[upload(jpeg_bytes(size=size))],
        email=email,
    )
    return report, report.photos.get()


def _succeeded(worker: Worker, task: str) -> int:
    return sum(
        1 for line in worker.text().splitlines() if f"Task {task}[" in line and "succeeded" in line
    )


def test_each_queue_has_its_own_worker(workers, media, tmp_path):
    replies = celery_app.control.inspect(destination=list(QUEUES), timeout=5).active_queues()
    assert replies, "no worker answered the inspect broadcast"
    assert {name: sorted(q["name"] for q in replies[name]) for name in QUEUES} == {
        PHOTOS: ["photos"],
        GENERAL: ["celery", "imports", "notifications"],
    }

    report, photo = _report_with_photo(email="anwohnerin@example.org")
    start = timezone.localtime() + timedelta(days=3)
    feed = tmp_path / "markt.ics"
    feed.write_bytes(
        calendar(
            vevent(
                "scaleout-1",
                "Wochenmarkt Alaunplatz",
                local(start.year, start.month, start.day, 9),
                local(start.year, start.month, start.day, 14),
                geo="51.0655;13.7535",
            )
        )
    )
    event_feed_import_task.delay(str(feed))

    def done() -> bool:
        photo.refresh_from_db()
        return (
            photo.state == ReportPhoto.State.READY
            and Event.objects.filter(uid="scaleout-1").exists()
            and _succeeded(workers[GENERAL], "reports.tasks.outbox_item_run_task") == 1
        )

    _wait(done, workers, "the photo, the e-mail and the import")
    photo_worker, general = workers[PHOTOS], workers[GENERAL]
    assert _succeeded(photo_worker, "reports.tasks.report_photo_process_task") == 1
    assert _succeeded(general, "reports.tasks.report_photo_process_task") == 0
    assert _succeeded(general, "events.tasks.event_feed_import_task") == 1
    for task in ("reports.tasks.outbox_item_run_task", "events.tasks.event_feed_import_task"):
        assert f"Received task: {task}[" not in photo_worker.text()
    # The e-mail was sent by the general worker (console backend: it is in that worker's log).
    assert report.tracking_token in general.text()
    public = media / "public" / photo.public_image.name
    assert photo.public_image.name and public.is_file()


def test_photo_worker_reserves_one_photo_at_a_time_and_acks_late(workers, broker):
    inspect = celery_app.control.inspect(destination=[PHOTOS], timeout=5)
    stats, registered = inspect.stats(), inspect.registered("acks_late")
    assert stats[PHOTOS]["prefetch_count"] == 1
    assert "reports.tasks.report_photo_process_task [acks_late=True]" in registered[PHOTOS]

    photos = [_report_with_photo(size=(2400, 1800))[1] for _ in range(3)]
    by_task: dict[str, int] = {}
    samples: list[tuple[int, list[str]]] = []  # (messages waiting in `photos`, reserved ids)
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        waiting = broker.llen("photos")
        reserved = []
        for raw in broker.hvals("unacked"):
            message = json.loads(raw)[0]
            task_id = message["headers"]["id"]
            by_task[task_id] = message["headers"]["argsrepr"]
            reserved.append(task_id)
        samples.append((waiting, reserved))
        if (
            not reserved
            and not waiting
            and all(
                ReportPhoto.objects.get(pk=p.pk).state == ReportPhoto.State.READY for p in photos
            )
        ):
            break
        if workers[PHOTOS].process.poll() is not None:
            pytest.fail(f"photo worker exited:\n{_logs(workers)}")
        time.sleep(0.005)
    else:
        pytest.fail(f"photos not processed in time:\n{_logs(workers)}")

    assert max(len(reserved) for _, reserved in samples) == 1, samples
    # While the worker held the first photo, the other two were still waiting in the broker's
    # queue (prefetch 1). It held it unacknowledged for the whole processing time (acks_late):
    # with an early ack it would take the next one off the queue within a millisecond.
    first = [reserved[0] for waiting, reserved in samples if reserved and waiting == 2]
    assert len(first) >= 5, samples
    assert {by_task[task_id] for task_id in first} == {f"({photos[0].pk},)"}
    assert _succeeded(workers[PHOTOS], "reports.tasks.report_photo_process_task") == 3
    assert len(by_task) == 3
