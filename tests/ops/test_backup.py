"""`make backup` → `make restore` into a second, fresh database: same rows, same files, a
working district-parts trigger, and the photos still pending at backup time pending again."""

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from io import StringIO
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command
from psycopg import sql

from civicmap.celery import app as celery_app
from core.backup import backup_manifest, table_counts
from reports.models import ReportPhoto
from tests.conftest import TEST_BROKER_URL, database_url_for_subprocess, jpeg_bytes, upload

pytestmark = pytest.mark.fault


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture
def fresh_database():
    """The URL of a database that does not exist yet; dropped afterwards, whatever happened."""
    source = database_url_for_subprocess()
    name = f"test_civicmap_restore_{uuid.uuid4().hex[:10]}"
    url = source.rsplit("/", 1)[0] + "/" + name
    yield url
    admin = _libpq(source.rsplit("/", 1)[0] + "/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _submit(client, lat: float, lon: float) -> int:
    response = client.post(
        "/api/v1/reports/",
        {
            "category": "bulky_waste",
            "lat": lat,
            "lon": lon,
            "description": "Sofa",
            "photo": upload(jpeg_bytes(size=(640, 480))),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _files(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@contextlib.contextmanager
def _served(database_url: str, media_root: Path):
    """uvicorn serving the app from another database and photo folder; yields a GET function."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "CELERY_BROKER_URL": TEST_BROKER_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "civicmap.asgi:application", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def get(path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - local
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            assert process.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.3)
        yield get
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_backup_restores_into_a_fresh_database_with_same_rows_files_and_trigger(
    dresden_committed, fresh_database, tmp_path_factory
):
    from rest_framework.test import APIClient

    client = APIClient()
    ready_id = _submit(client, 51.0655, 13.7535)  # photo processed in-process (eager)
    redis.Redis.from_url(TEST_BROKER_URL).flushdb()
    celery_app.conf.task_always_eager = False  # the next photo's message goes to Redis, unread
    try:
        pending_id = _submit(client, 51.0500, 13.7400)
    finally:
        celery_app.conf.task_always_eager = True
        redis.Redis.from_url(TEST_BROKER_URL).flushdb()
    assert ReportPhoto.objects.get(report_id=ready_id).state == ReportPhoto.State.READY
    assert ReportPhoto.objects.get(report_id=pending_id).state == ReportPhoto.State.PENDING

    media = Path(settings.MEDIA_ROOT)
    source_files = _files(media)
    assert len(source_files) >= 4  # two originals, a public copy and a thumbnail at least
    source_url = database_url_for_subprocess()
    with psycopg.connect(_libpq(source_url)) as conn, conn.cursor() as cursor:
        source_counts = table_counts(cursor)
    assert source_counts["public.reports_report"] == 2
    assert source_counts["public.districts_districtpart"] > 19

    archive = tmp_path_factory.mktemp("backups") / "b.tar"
    out = StringIO()
    call_command("core_backup", "--output", str(archive), stdout=out)
    assert f"Backup written: {archive}" in out.getvalue()
    manifest = backup_manifest(path=archive)
    assert manifest["tables"] == source_counts
    assert {rel: f["sha256"] for rel, f in manifest["media"]["files"].items()} == source_files

    restored_media = tmp_path_factory.mktemp("restored-media")
    out = StringIO()
    # pg_restore runs in one transaction with --exit-on-error; any exit code but 0 raises.
    call_command(
        "core_restore",
        str(archive),
        "--database-url",
        fresh_database,
        "--media-root",
        str(restored_media),
        stdout=out,
    )
    assert "Every row count and every file checksum matches the manifest" in out.getvalue()

    assert _files(restored_media) == source_files

    # The restored copy serves the reports and the public photo as the original does.
    pages = {pk: client.get(f"/reports/{pk}/").status_code for pk in (ready_id, pending_id)}
    photo_url = ReportPhoto.objects.get(report_id=ready_id).public_image.url
    with _served(fresh_database, restored_media) as get:
        assert {pk: get(f"/reports/{pk}/")[0] for pk in pages} == pages
        status, body = get(photo_url)
    assert 200 in pages.values()
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == source_files["public/" + photo_url[len("/media/") :]]
    with psycopg.connect(_libpq(fresh_database), autocommit=True) as conn:
        with conn.cursor() as cursor:
            assert table_counts(cursor) == source_counts
        # The photo that was pending is pending in the copy: the periodic sweep takes it there.
        state = conn.execute(
            "SELECT state, original FROM reports_reportphoto WHERE report_id = %s", [pending_id]
        ).fetchone()
        assert state[0] == ReportPhoto.State.PENDING
        assert (restored_media / "private" / state[1]).is_file()

        triggers = {
            name
            for (name,) in conn.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'districts_district'::regclass "
                "AND NOT tgisinternal"
            )
        }
        assert triggers == {"districts_district_parts_insert", "districts_district_parts_update"}
        # A changed boundary in the restored database gets its parts cut again by the trigger.
        district_id, parts_before = conn.execute(
            "SELECT d.id, count(p.id) FROM districts_district d JOIN districts_districtpart p "
            "ON p.district_id = d.id GROUP BY d.id ORDER BY count(p.id) DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE districts_district SET boundary = "
            "ST_Multi(ST_Buffer(ST_Centroid(boundary), 0.004, 2)) WHERE id = %s",
            [district_id],
        )
        parts_after, gap = conn.execute(
            "SELECT count(p.id), ST_Area(ST_SymDifference(d.boundary, ST_Union(p.geom))) "
            "FROM districts_district d JOIN districts_districtpart p ON p.district_id = d.id "
            "WHERE d.id = %s GROUP BY d.id",
            [district_id],
        ).fetchone()
        assert 0 < parts_after < parts_before
        assert gap < 1e-12

    # A second restore into the now filled database is refused and changes nothing.
    with pytest.raises(CommandError, match="is not empty"):
        call_command(
            "core_restore",
            str(archive),
            "--database-url",
            fresh_database,
            "--media-root",
            str(tmp_path_factory.mktemp("elsewhere")),
            stdout=StringIO(),
        )
    with psycopg.connect(_libpq(fresh_database)) as conn, conn.cursor() as cursor:
        assert table_counts(cursor)["public.reports_report"] == 2

    # Told to (--force, FORCE=1 for make), it replaces the contents: the changed district is
    # back as it was, with its parts.
    call_command(
        "core_restore",
        str(archive),
        "--database-url",
        fresh_database,
        "--media-root",
        str(restored_media),
        "--force",
        stdout=StringIO(),
    )
    with psycopg.connect(_libpq(fresh_database)) as conn, conn.cursor() as cursor:
        assert table_counts(cursor) == source_counts
        cursor.execute(
            "SELECT count(*) FROM districts_districtpart WHERE district_id = %s", [district_id]
        )
        assert cursor.fetchone()[0] == parts_before
