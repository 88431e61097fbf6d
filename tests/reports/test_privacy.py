"""Photo plausibility, coarse public points, moderation, retention and the personal-data export
at the service level."""

import logging
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from reports.geo import public_point
from reports.models import Category, Report, ReportFlag, ReportPhoto
from reports.selectors import personal_data_export, report_list
from reports.services import (
    report_contact_delete,
    report_create,
    report_moderate,
    report_public_location_refresh,
    report_transition,
    retention_run,
)
from tests.conftest import gps_exif, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

PIN = Point(13.7535, 51.0655, srid=4326)  # Alaunpark


def projected(point: Point, meters: float, azimuth_deg: float = 0) -> tuple[float, float]:
    """(lat, lon) `meters` from `point` on the spheroid, computed by PostGIS."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Y(g), ST_X(g) FROM (SELECT ST_Project("
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, radians(%s))::geometry g) p",
            [point.x, point.y, meters, azimuth_deg],
        )
        return cursor.fetchone()


def photo_with(*, lat: float, lon: float, taken=None) -> bytes:
    exif = gps_exif(lat, lon)
    taken = taken or timezone.now() - timedelta(hours=1)
    exif.get_ifd(0x8769)[0x9003] = timezone.localtime(taken).strftime("%Y:%m:%d %H:%M:%S")
    return jpeg_bytes(exif=exif)


def _submit(data: bytes, category: str = "litter") -> Report:
    report, _ = report_create(category=category, location=PIN, photos=[upload(data)])
    return report


def _flags(report: Report, kind: str) -> list[ReportFlag]:
    return list(report.flags.filter(kind=kind))


@pytest.mark.parametrize(("meters", "flagged"), [(149, False), (151, True)])
def test_photo_gps_far_from_the_pin_flags_the_report(meters, flagged):
    lat, lon = projected(PIN, meters, azimuth_deg=60)
    report = _submit(photo_with(lat=lat, lon=lon))
    assert Report.objects.filter(pk=report.pk).exists()  # accepted either way
    flags = _flags(report, ReportFlag.Kind.PHOTO_LOCATION)
    assert bool(flags) is flagged
    if flagged:
        assert "151 m" in flags[0].reason and "150 m" in flags[0].reason
    assert not _flags(report, ReportFlag.Kind.PHOTO_AGE)


@pytest.mark.parametrize(
    ("age", "flagged"),
    [(timedelta(days=6, hours=23), False), (timedelta(days=7, hours=1), True)],
)
def test_old_photo_flags_the_report(age, flagged):
    report = _submit(photo_with(lat=PIN.y, lon=PIN.x, taken=timezone.now() - age))
    flags = _flags(report, ReportFlag.Kind.PHOTO_AGE)
    assert bool(flags) is flagged
    if flagged:
        assert "7.0 days" in flags[0].reason
    assert not _flags(report, ReportFlag.Kind.PHOTO_LOCATION)


def test_photo_without_metadata_is_not_flagged():
    report = _submit(jpeg_bytes())
    assert not report.flags.exists()


def test_public_point_is_the_centre_of_a_grid_cell():
    exact = Point(13.74123, 51.05301, srid=4326)
    coarse = public_point(point=exact, grid_m=100)
    assert public_point(point=exact, grid_m=0).coords == exact.coords
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Distance(ST_GeomFromText(%s, 4326)::geography, "
            "ST_GeomFromText(%s, 4326)::geography)",
            [exact.wkt, coarse.wkt],
        )
        assert 0 < cursor.fetchone()[0] < 72
    # Every point of the cell maps to the same centre.
    nearby = Point(coarse.x + 0.0001, coarse.y - 0.0001, srid=4326)
    assert public_point(point=nearby, grid_m=100).coords == coarse.coords


def test_sensitive_category_stores_a_coarse_public_point():
    hazardous = Category.objects.get(code="hazardous")
    assert hazardous.public_grid_m == 100
    report, _ = report_create(category=hazardous, location=PIN)
    assert report.location.coords == PIN.coords
    assert report.public_location.coords == public_point(point=PIN, grid_m=100).coords
    assert report.public_location.coords != PIN.coords
    litter, _ = report_create(category="litter", location=PIN)
    assert litter.public_location.coords == PIN.coords


def test_public_point_follows_a_category_change():
    report, _ = report_create(category="litter", location=PIN)
    Report.objects.filter(pk=report.pk).update(category=Category.objects.get(code="hazardous"))
    report = report_public_location_refresh(report=report)
    assert report.public_location.coords == public_point(point=PIN, grid_m=100).coords
    report.refresh_from_db()
    assert report.public_location.coords != PIN.coords


def test_pre_moderated_category_waits_for_approval():
    report, _ = report_create(category="hazardous", location=PIN, description="Spritzen")
    assert report.moderation == Report.Moderation.PENDING
    assert not report_list().filter(pk=report.pk).exists()
    assert report_list(published_only=False).filter(pk=report.pk).exists()
    report_moderate(report=report, action="approve")
    assert report_list().filter(pk=report.pk).exists()


def test_retention_deletes_exactly_what_is_due(caplog, django_capture_on_commit_callbacks):
    now = timezone.now()

    def make(email: str, closed_days_ago: float | None) -> Report:
        with django_capture_on_commit_callbacks(execute=True):
            report, _ = report_create(
                category="litter",
                location=PIN,
                photos=[upload(jpeg_bytes())],
                email=email,
                reporter_name="Erika",
                reporter_phone="0351 1",
            )
        if closed_days_ago is not None:
            report = report_transition(report=report, to=Report.Status.CLEARED, note="done")
            Report.objects.filter(pk=report.pk).update(
                closed_at=now - timedelta(days=closed_days_ago)
            )
        else:
            Report.objects.filter(pk=report.pk).update(created_at=now - timedelta(days=400))
        return report

    due = make("due@example.org", 90.01)
    recent = make("recent@example.org", 89.9)
    still_open = make("open@example.org", None)
    with caplog.at_level(logging.INFO, logger="reports.services"):
        removed = retention_run(now=now)
    due_photo = due.photos.get()
    assert removed == {"contacts": [due.pk], "originals": [due_photo.pk]}
    assert f"[{due.pk}]" in caplog.text and f"[{due_photo.pk}]" in caplog.text
    due.refresh_from_db()
    assert (due.reporter_email, due.reporter_name, due.reporter_phone) == ("", "", "")
    assert due.contact_deleted_at is not None
    due_photo.refresh_from_db()
    assert not due_photo.original and due_photo.original_deleted_at is not None
    # The redacted public copy stays.
    assert due_photo.public_image and due_photo.state == ReportPhoto.State.READY
    for kept, email in ((recent, "recent@example.org"), (still_open, "open@example.org")):
        kept.refresh_from_db()
        assert kept.reporter_email == email and kept.reporter_name == "Erika"
        assert kept.photos.get().original
    # A second run finds nothing more to do.
    assert retention_run(now=now) == {"contacts": [], "originals": []}


def test_retention_days_are_configurable(settings):
    settings.RETENTION_DAYS = 10
    report, _ = report_create(category="litter", location=PIN, email="a@example.org")
    report_transition(report=report, to=Report.Status.CLEARED, note="done")
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - timedelta(days=11))
    assert retention_run()["contacts"] == [report.pk]


def test_resident_contact_delete_and_personal_data_export():
    report, _ = report_create(
        category="litter",
        location=PIN,
        email="Erika@Example.org",
        reporter_name="Erika Mustermann",
        description="Sofa",
    )
    other, _ = report_create(category="glass", location=PIN, email="someone@example.org")
    export = personal_data_export(email="erika@example.org")
    assert export["count"] == 1
    item = export["reports"][0]
    assert item["id"] == report.pk and item["reporter_name"] == "Erika Mustermann"
    assert item["history"][0]["kind"] == "created"
    report_contact_delete(report=report)
    report.refresh_from_db()
    assert report.reporter_email == "" and report.contact_deleted_at is not None
    assert personal_data_export(email="erika@example.org")["count"] == 0
    other.refresh_from_db()
    assert other.reporter_email == "someone@example.org"
