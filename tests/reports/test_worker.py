"""A real Celery worker against Redis processes a photo the API stored (no eager mode)."""

import os
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings

from civicmap.celery import app as celery_app
from reports.models import ReportPhoto
from tests.conftest import (
    TEST_BROKER_URL,
    database_url_for_subprocess,
    gps_exif,
    jpeg_bytes,
    upload,
)

pytestmark = pytest.mark.worker


@pytest.fixture
def real_broker():
    redis.Redis.from_url(TEST_BROKER_URL).flushdb()
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


@pytest.fixture
def worker(tmp_path, real_broker):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "MEDIA_ROOT": str(tmp_path),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "civicmap",
            "worker",
            "-Q",
            "photos",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_worker_makes_the_thumbnail_of_an_api_upload(dresden_committed, worker):
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/api/v1/reports/",
        {
            "category": "litter",
            "photo": upload(jpeg_bytes(size=(2400, 1800), exif=gps_exif(51.0655, 13.7535))),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    photo = ReportPhoto.objects.get(report_id=response.json()["id"])
    assert photo.state == ReportPhoto.State.PENDING  # queued, not done in the request
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        photo.refresh_from_db()
        if photo.state != ReportPhoto.State.PENDING or worker.poll() is not None:
            break
        time.sleep(0.3)
    if photo.state != ReportPhoto.State.READY:
        worker.terminate()
        pytest.fail(f"worker did not finish the photo; its log:\n{worker.communicate()[0]}")
    assert photo.thumbnail.name and photo.public_image.name
    assert (photo.width, photo.height) == (1600, 1200)
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, "public", photo.thumbnail.name))
