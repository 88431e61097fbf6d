"""Photos on S3-compatible object storage, switched on by settings (django-storages).

The object store is outside our system, so a local S3-compatible server stands in for it (moto's
server, spoken to over HTTP by boto3 exactly like MinIO or AWS). The STORAGES come from running
civicmap/settings.py with the STORAGE_S3_* variables set, and a photo goes the normal way: report
creation, then the photo task."""

import io
import runpy

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver, reverse
from moto import server as moto_server
from PIL import Image

from reports.models import ReportPhoto
from reports.services import report_create
from tests.conftest import gps_exif, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

PUBLIC, PRIVATE = "civicmap-public", "civicmap-private"
ALAUNPARK = (51.0655, 13.7535)
SETTINGS_FILE = django_settings.BASE_DIR / "civicmap" / "settings.py"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch, settings):
    """Fresh buckets, and STORAGES as civicmap/settings.py builds them from the environment."""
    env = {
        "STORAGE_S3_BUCKET": PUBLIC,
        "STORAGE_S3_PRIVATE_BUCKET": PRIVATE,
        "STORAGE_S3_ENDPOINT_URL": s3_endpoint,
        "STORAGE_S3_REGION": "eu-central-1",
        "STORAGE_S3_ACCESS_KEY_ID": "civicmap-test",
        "STORAGE_S3_SECRET_ACCESS_KEY": "civicmap-test-secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="eu-central-1",
        aws_access_key_id="civicmap-test",
        aws_secret_access_key="civicmap-test-secret",
    )
    for bucket in (PUBLIC, PRIVATE):
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
    # The URLconf is imported once per process and reads STORAGES when it serves /media/: load
    # it with the usual settings, so tests that run after this one see the usual URLs.
    get_resolver().url_patterns  # noqa: B018
    built = runpy.run_path(str(SETTINGS_FILE))
    assert built["SERVE_MEDIA"] is False  # nothing local to serve
    settings.STORAGES, settings.SERVE_MEDIA = built["STORAGES"], built["SERVE_MEDIA"]
    yield client
    for bucket in (PUBLIC, PRIVATE):
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)


def _keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def _body(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_settings_switch_both_storages_to_s3(s3):
    storages = django_settings.STORAGES
    assert storages["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storages["default"]["OPTIONS"]["bucket_name"] == PUBLIC
    assert storages["private"]["BACKEND"] == "core.storage_s3.PrivateS3Storage"
    assert storages["private"]["OPTIONS"]["bucket_name"] == PRIVATE


def test_photo_copies_land_in_the_public_bucket_and_the_original_in_the_private_one(
    s3, s3_endpoint, django_capture_on_commit_callbacks, client, django_user_model
):
    original = jpeg_bytes(
        size=(2000, 1500), exif=gps_exif(*ALAUNPARK, orientation=6, serial="SN-4711")
    )
    with django_capture_on_commit_callbacks(execute=True):  # runs the photo task (eager)
        report, _ = report_create(category="bulky_waste", location=None, photos=[upload(original)])
    photo = report.photos.get()
    assert photo.state == ReportPhoto.State.READY

    public_keys, private_keys = _keys(s3, PUBLIC), _keys(s3, PRIVATE)
    assert public_keys == sorted([photo.public_image.name, photo.thumbnail.name])
    assert private_keys == [photo.original.name]
    assert _body(s3, PRIVATE, photo.original.name) == original

    public = _body(s3, PUBLIC, photo.public_image.name)
    thumb = _body(s3, PUBLIC, photo.thumbnail.name)
    for data, longest in ((public, 1600), (thumb, 320)):
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and max(image.size) == longest
        assert image.width < image.height  # orientation applied
        assert len(image.getexif()) == 0
        for leak in (b"Exif", b"SN-4711", b"TestCam", b"GPS"):
            assert leak not in data

    # Public copies have plain URLs on the bucket; originals have none, and no public grant.
    url = photo.public_image.url
    assert url.startswith(f"{s3_endpoint}/{PUBLIC}/") and "Signature" not in url
    with pytest.raises(NotImplementedError):
        photo.original.url  # noqa: B018
    grants = s3.get_object_acl(Bucket=PRIVATE, Key=photo.original.name)["Grants"]
    assert not any("AllUsers" in grant["Grantee"].get("URI", "") for grant in grants)

    # Staff still see the original, streamed by our own view from the private bucket.
    staff = django_user_model.objects.create_user("s3-staff", password="x", is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("frontend:staff:photo-original", args=[photo.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size[1] > 0


def test_one_bucket_alone_is_refused(monkeypatch):
    monkeypatch.setenv("STORAGE_S3_BUCKET", PUBLIC)
    monkeypatch.delenv("STORAGE_S3_PRIVATE_BUCKET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="STORAGE_S3_PRIVATE_BUCKET"):
        runpy.run_path(str(SETTINGS_FILE))
    monkeypatch.setenv("STORAGE_S3_PRIVATE_BUCKET", PUBLIC)
    with pytest.raises(ImproperlyConfigured, match="two different buckets"):
        runpy.run_path(str(SETTINGS_FILE))
