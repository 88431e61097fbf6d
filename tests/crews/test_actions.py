import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from PIL import Image

from crews.actions import (
    CLOSE_NEEDS_PHOTO,
    ticket_close,
    ticket_mark_duplicate,
    ticket_reject,
    ticket_start,
)
from crews.services import report_dispatch
from reports.models import Report, ReportFlag
from reports.services import ReportChangedMeanwhile, report_create
from reports.wording import event_note
from tests.conftest import NEUSTADT_POINT, gps_exif, jpeg_bytes, upload

S = Report.Status
# Altmarkt, Altstadt: crew "mitte" serves it, crew "nord" does not.
ALTSTADT_POINT = Point(13.7383, 51.0504, srid=4326)


def _ticket(point: Point = NEUSTADT_POINT, email: str = "") -> Report:
    report, _ = report_create(category="litter", location=point, email=email)
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _member(name: str = "crew-nord") -> User:
    return User.objects.get(username=name)


def _photo(lat: float | None = None, lon: float | None = None, taken: str | None = None):
    exif = gps_exif(lat, lon) if lat is not None else Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    elif lat is not None:
        del exif.get_ifd(0x8769)[0x9003]
    return upload(jpeg_bytes(exif=exif))


def _now_exif() -> str:
    return timezone.localtime().strftime("%Y:%m:%d %H:%M:%S")


@pytest.mark.django_db
def test_start_then_close_with_photo_records_events_with_the_member_as_actor():
    report = _ticket()
    member = _member()
    started = ticket_start(user=member, report=report, expected_version=report.version).report
    assert started.status == S.IN_PROGRESS
    closed = ticket_close(
        user=member,
        report=started,
        expected_version=started.version,
        photo=_photo(NEUSTADT_POINT.y, NEUSTADT_POINT.x, _now_exif()),
        note="Weggeräumt",
    ).report
    assert closed.status == S.CLEARED
    assert closed.closed_at is not None
    event = closed.events.get(to_status=S.CLEARED)
    assert event.actor == member and event.note == "Weggeräumt" and event.photo.kind == "after"
    assert closed.events.get(to_status=S.IN_PROGRESS).actor == member
    assert not closed.flags.exists()


@pytest.mark.django_db
def test_closing_without_an_after_photo_is_refused():
    report = _ticket()
    with pytest.raises(ValidationError) as error:
        ticket_close(
            user=_member(), report=report, expected_version=report.version, photo=None, note="x"
        )
    assert str(CLOSE_NEEDS_PHOTO) in str(error.value)
    report.refresh_from_db()
    assert report.status == S.ASSIGNED


@pytest.mark.django_db
def test_after_photo_far_away_is_accepted_but_flagged():
    report = _ticket()
    # About 1.1 km north of the ticket.
    far = _photo(NEUSTADT_POINT.y + 0.01, NEUSTADT_POINT.x, _now_exif())
    closed = ticket_close(
        user=_member(), report=report, expected_version=report.version, photo=far
    ).report
    assert closed.status == S.CLEARED
    flag = closed.flags.get()
    assert flag.kind == ReportFlag.Kind.AFTER_PHOTO
    assert "m from the ticket" in flag.reason
    assert 1000 < flag.data["meters"] < 1250


@pytest.mark.django_db
def test_after_photo_near_but_older_than_the_report_is_flagged():
    report = _ticket()
    old = _photo(NEUSTADT_POINT.y, NEUSTADT_POINT.x + 0.0003, "2020:05:01 08:00:00")
    closed = ticket_close(
        user=_member(), report=report, expected_version=report.version, photo=old
    ).report
    assert closed.status == S.CLEARED
    flag = closed.flags.get()
    assert flag.kind == ReportFlag.Kind.AFTER_PHOTO
    assert "before the report was made" in flag.reason


@pytest.mark.django_db
def test_cleared_ticket_mails_the_reporter_after_commit(django_capture_on_commit_callbacks):
    report = _ticket(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(
            user=_member(),
            report=report,
            expected_version=report.version,
            photo=_photo(),
        )
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert f"#{report.pk}" in mail.outbox[0].subject


@pytest.mark.django_db
def test_reject_needs_a_reason_from_the_list():
    report = _ticket()
    with pytest.raises(ValidationError):
        ticket_reject(
            user=_member(),
            report=report,
            expected_version=report.version,
            reason="too tired",
        )
    rejected = ticket_reject(
        user=_member(),
        report=report,
        expected_version=report.version,
        reason="private_ground",
        note="Hof der Wohnungsgenossenschaft",
    ).report
    assert rejected.status == S.REJECTED
    event = rejected.events.get(to_status=S.REJECTED)
    assert event.data["reason"] == "private_ground"  # a code, shown in the reader's language
    assert event_note(event) == "private ground: Hof der Wohnungsgenossenschaft"


@pytest.mark.django_db
def test_duplicate_only_of_an_open_ticket_within_50_m():
    report = _ticket()
    near = _ticket(Point(NEUSTADT_POINT.x + 0.0003, NEUSTADT_POINT.y, srid=4326))  # ~21 m
    far = _ticket(Point(NEUSTADT_POINT.x + 0.0015, NEUSTADT_POINT.y, srid=4326))  # ~105 m
    with pytest.raises(ValidationError):
        ticket_mark_duplicate(
            user=_member(),
            report=report,
            expected_version=report.version,
            duplicate_of=far,
        )
    marked = ticket_mark_duplicate(
        user=_member(),
        report=report,
        expected_version=report.version,
        duplicate_of=near,
    ).report
    assert marked.status == S.DUPLICATE and marked.duplicate_of == near


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        (ticket_start, {}),
        (ticket_close, {"photo": "photo"}),
        (ticket_reject, {"reason": "not_found"}),
        (ticket_mark_duplicate, {"duplicate_of": "near"}),
    ],
)
def test_every_action_on_another_crews_ticket_is_denied(operation, extra):
    report = _ticket()
    near = _ticket(Point(NEUSTADT_POINT.x + 0.0003, NEUSTADT_POINT.y, srid=4326))
    values = {"photo": _photo(), "not_found": "not_found", "near": near}
    with pytest.raises(PermissionDenied):
        operation(
            user=_member("crew-mitte"),
            report=report,
            expected_version=report.version,
            **{name: values[value] for name, value in extra.items()},
        )
    report.refresh_from_db()
    assert report.status == S.ASSIGNED
    assert report.events.filter(kind="status").count() == 0


@pytest.mark.django_db
def test_resend_with_the_same_key_applies_once_and_replays_the_answer():
    report = _ticket()
    first = ticket_close(
        user=_member(),
        report=report,
        expected_version=report.version,
        photo=_photo(),
        idempotency_key="tablet-1-abc",
    )
    again = ticket_close(
        user=_member(),
        report=report,
        expected_version=report.version,  # the tablet still holds the old version
        photo=_photo(),
        idempotency_key="tablet-1-abc",
    )
    assert again.replayed and not first.replayed
    assert again.response == first.response
    assert report.events.filter(to_status=S.CLEARED).count() == 1
    assert report.photos.filter(kind="after").count() == 1


@pytest.mark.django_db
def test_stale_version_without_a_key_is_a_conflict_with_the_current_state():
    report = _ticket()
    ticket_start(user=_member(), report=report, expected_version=report.version)
    with pytest.raises(ReportChangedMeanwhile) as conflict:
        ticket_reject(
            user=_member(),
            report=report,
            expected_version=report.version,
            reason="not_found",
        )
    assert conflict.value.report.status == S.IN_PROGRESS


def test_two_members_closing_at_the_same_moment_one_wins(dresden_committed):
    report = _ticket()
    second = User.objects.create_user("crew-nord-2", password="x")
    report.assignments.get(active=True).crew.members.add(second)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def close(username: str) -> None:
        try:
            stale = Report.objects.get(pk=report.pk)
            member = User.objects.get(username=username)
            barrier.wait()
            ticket_close(
                user=member,
                report=stale,
                expected_version=stale.version,
                photo=_photo(),
                idempotency_key=f"key-{username}",
            )
            outcomes.append("won")
        except ReportChangedMeanwhile as exc:
            outcomes.append(f"conflict:{exc.report.status}")
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(n,)) for n in ("crew-nord", "crew-nord-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict:cleared", "won"]
    report.refresh_from_db()
    assert report.status == S.CLEARED
    assert report.events.filter(to_status=S.CLEARED).count() == 1
    assert report.photos.filter(kind="after").count() == 1


@pytest.mark.django_db
def test_same_key_for_another_ticket_is_refused():
    one, two = _ticket(), _ticket(Point(NEUSTADT_POINT.x + 0.001, NEUSTADT_POINT.y, srid=4326))
    ticket_start(user=_member(), report=one, expected_version=one.version, idempotency_key="k")
    with pytest.raises(ValidationError):
        ticket_start(
            user=_member(),
            report=two,
            expected_version=two.version,
            idempotency_key="k",
        )
    assert timezone.now() - one.created_at < timedelta(minutes=5)


@pytest.mark.django_db
def test_crew_messages_are_in_the_users_language():
    from django.utils import translation

    report = _ticket()
    with translation.override("de"):
        with pytest.raises(ValidationError) as error:
            ticket_close(user=_member(), report=report, expected_version=report.version, photo=None)
        assert error.value.messages == [
            "Um einen Auftrag als erledigt abzuschließen, braucht es ein Nachher-Foto."
        ]
        with pytest.raises(PermissionDenied) as denied:
            ticket_start(user=_member("crew-mitte"), report=report, expected_version=report.version)
        assert str(denied.value) == "Dieser Auftrag ist keinem Ihrer Teams zugewiesen."


def test_work_may_start_where_the_status_machine_allows_it():
    from crews.actions import ticket_can_start

    allowed = {status for status in S.values if ticket_can_start(report=Report(status=status))}
    assert allowed == {S.NEW, S.ASSIGNED}
