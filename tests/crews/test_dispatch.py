from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone

from crews import dispatch
from crews.models import Assignment, Crew
from crews.selectors import (
    DUE_SOON,
    LATE,
    ON_TIME,
    UNASSIGNED,
    assignment_history,
    deadline_state,
    open_tickets_geojson,
)
from crews.services import report_dispatch
from districts.models import District
from reports.models import Category, Report, ReportEvent, ReportPhoto
from reports.services import report_confirm, report_create, report_transition
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
S = Report.Status


def _ticket(point: Point = NEUSTADT_POINT, category: str = "litter", **kwargs) -> Report:
    report, _ = report_create(category=category, location=point, **kwargs)
    report_dispatch(report=report)
    report.refresh_from_db()
    return report


def _due(report: Report, due_at) -> None:
    Assignment.objects.filter(report=report, active=True).update(due_at=due_at)
    Report.objects.filter(pk=report.pk).update(due_at=due_at)


def test_deadline_state_at_the_boundaries():
    now = timezone.now()
    exactly_now = _ticket()
    soon = _ticket()
    later = _ticket()
    past = _ticket()
    _due(exactly_now, now)
    _due(soon, now + timedelta(hours=23, minutes=59))
    _due(later, now + timedelta(hours=24, minutes=1))
    _due(past, now - timedelta(seconds=1))
    oberwartha = District.objects.get(code="oberwartha")
    nobody = _ticket(point=oberwartha.boundary.point_on_surface)  # no crew serves it

    features = {f["id"]: f["properties"] for f in open_tickets_geojson(now=now)["features"]}
    states = {pk: features[pk]["state"] for pk in features}
    # Late is strictly after the deadline: a ticket due this very moment is still on time.
    assert states[exactly_now.pk] == DUE_SOON
    assert states[soon.pk] == DUE_SOON
    assert states[later.pk] == ON_TIME
    assert states[past.pk] == LATE
    assert states[nobody.pk] == UNASSIGNED
    counts = open_tickets_geojson(now=now)["counts"]
    assert counts == {"unassigned": 1, "late": 1, "due_soon": 2, "on_time": 1}
    # The Python rule (used on the ticket page) agrees with the SQL one.
    for report, expected in [
        (exactly_now, DUE_SOON),
        (soon, DUE_SOON),
        (later, ON_TIME),
        (past, LATE),
    ]:
        report.refresh_from_db()
        assert deadline_state(due_at=report.due_at, assigned=True, now=now) == expected
    assert deadline_state(due_at=now + timedelta(hours=24), assigned=True, now=now) == DUE_SOON
    assert deadline_state(due_at=now - timedelta(days=1), assigned=False, now=now) == UNASSIGNED


def test_open_tickets_geojson_has_no_reporter_data_and_no_closed_tickets():
    report = _ticket(email="secret@example.org", reporter_name="Erika Muster")
    closed = _ticket()
    report_transition(report=closed, to=S.CLEARED, note="done")
    text = str(open_tickets_geojson(now=timezone.now()))
    assert "secret@example.org" not in text and "Erika" not in text
    assert report.tracking_token not in text
    ids = [f["id"] for f in open_tickets_geojson(now=timezone.now())["features"]]
    assert report.pk in ids and closed.pk not in ids


def test_reassignment_keeps_history_and_records_who_and_why():
    dispatcher = UserFactory(username="disp")
    report = _ticket()
    first = report.assignments.get(active=True)
    assert first.crew.code == "nord"
    dispatch.dispatch_reassign(
        report=report, crew=Crew.objects.get(code="mitte"), actor=dispatcher, reason="Nord krank"
    )
    dispatch.dispatch_reassign(
        report=report, crew=Crew.objects.get(code="ost"), actor=dispatcher, reason="Mitte voll"
    )
    history = list(assignment_history(report=report))
    assert [a.crew.code for a in history] == ["nord", "mitte", "ost"]
    assert [a.active for a in history] == [False, False, True]
    assert history[0].ended_at is not None and history[1].ended_at is not None
    assert history[2].reason == "Mitte voll" and history[2].assigned_by == dispatcher
    # The deadline stays with the ticket.
    assert {a.due_at for a in history} == {first.due_at}
    events = report.events.filter(kind=ReportEvent.Kind.REASSIGNED).order_by("id")
    assert [(e.data["from_crew"], e.data["crew"], e.note) for e in events] == [
        ("nord", "mitte", "Nord krank"),
        ("mitte", "ost", "Mitte voll"),
    ]
    assert all(e.actor == dispatcher for e in events)


def test_reassignment_needs_a_reason_and_another_crew():
    report = _ticket()
    with pytest.raises(ValidationError):
        dispatch.dispatch_reassign(
            report=report, crew=Crew.objects.get(code="mitte"), actor=None, reason=" "
        )
    with pytest.raises(ValidationError):
        dispatch.dispatch_reassign(
            report=report, crew=Crew.objects.get(code="nord"), actor=None, reason="x"
        )
    assert report.assignments.count() == 1


def test_category_change_reroutes_and_recomputes_the_deadline():
    report = _ticket(category="litter")  # 3 working days, crew nord
    bulky = Category.objects.get(code="bulky_waste")
    dispatch.dispatch_change_category(report=report, category=bulky, actor=None)
    report.refresh_from_db()
    active = report.assignments.get(active=True)
    assert report.category == bulky
    assert active.crew.code == "sperrmuell"  # the bulky-waste crew serves Neustadt
    from crews.deadlines import compute_due_at

    expected = compute_due_at(
        start=report.created_at, unit=bulky.deadline_unit, amount=bulky.deadline_amount
    )
    assert report.due_at == expected == active.due_at
    event = report.events.filter(kind=ReportEvent.Kind.NOTE, data__action="category").get()
    assert event.data["from_category"] == "litter" and event.data["category"] == "bulky_waste"


def test_category_change_into_a_sensitive_category_coarsens_the_public_point():
    report = _ticket(category="litter")
    assert report.public_location.equals_exact(report.location, 1e-9)
    hazardous = Category.objects.get(code="hazardous")
    hazardous.public_grid_m = 100
    hazardous.save()
    dispatch.dispatch_change_category(report=report, category=hazardous, actor=None)
    report.refresh_from_db()
    assert not report.public_location.equals_exact(report.location, 1e-7)
    # The coarse point stays within one grid cell of the exact one, and staff keep the exact one.
    assert report.public_location.distance(report.location) < 0.002
    assert report.location.equals_exact(NEUSTADT_POINT, 1e-9)


def test_category_change_with_a_manual_deadline_needs_a_reason():
    report = _ticket(category="litter")
    glass = Category.objects.get(code="glass")
    wanted = timezone.now() + timedelta(hours=5)
    with pytest.raises(ValidationError):
        dispatch.dispatch_change_category(report=report, category=glass, actor=None, due_at=wanted)
    dispatch.dispatch_change_category(
        report=report, category=glass, actor=None, due_at=wanted, reason="Scherben am Spielplatz"
    )
    report.refresh_from_db()
    assert report.due_at == wanted
    assert report.assignments.get(active=True).due_at == wanted


def test_set_priority_is_recorded():
    report = _ticket()
    dispatch.dispatch_set_priority(report=report, priority=2, actor=None)
    report.refresh_from_db()
    assert report.priority == 2
    assert report.events.filter(data__action="priority", data__priority=2).exists()
    with pytest.raises(ValidationError):
        dispatch.dispatch_set_priority(report=report, priority=9, actor=None)


def test_merge_moves_photos_and_confirmations_to_the_kept_ticket():
    keep = _ticket(photos=[upload(jpeg_bytes())])
    dup = _ticket(photos=[upload(jpeg_bytes()), upload(jpeg_bytes(colour=(9, 9, 9)))])
    report_confirm(report=dup)
    report_confirm(report=dup)
    report_confirm(report=keep)
    dup_photos = set(dup.photos.values_list("pk", flat=True))

    kept = dispatch.dispatch_merge(duplicate=dup, keep=keep, actor=None)

    dup.refresh_from_db()
    assert dup.status == S.DUPLICATE and dup.duplicate_of == keep
    assert set(kept.photos.values_list("pk", flat=True)) >= dup_photos
    assert kept.photos.count() == 3 and not ReportPhoto.objects.filter(report=dup).exists()
    # keep's own confirmation + the duplicate's two + its reporter.
    assert kept.confirmations_count == 1 + 2 + 1
    assert dup.confirmations_count == 0
    assert not dup.assignments.filter(active=True).exists()
    assert kept.events.filter(data__action="merge", data__merged=dup.pk).exists()
    with pytest.raises(ValidationError):
        dispatch.dispatch_merge(duplicate=keep, keep=keep, actor=None)


def test_merge_into_a_closed_ticket_is_refused():
    keep = _ticket()
    dup = _ticket()
    report_transition(report=keep, to=S.CLEARED, note="weg")
    with pytest.raises(ValidationError):
        dispatch.dispatch_merge(duplicate=dup, keep=keep, actor=None)
    dup.refresh_from_db()
    assert dup.status == S.ASSIGNED


def test_reopen_a_wrongly_cleared_ticket_goes_back_to_its_crew():
    report = _ticket()
    report_transition(report=report, to=S.CLEARED, note="erledigt")
    with pytest.raises(ValidationError):
        dispatch.dispatch_reopen(report=report, actor=None, reason="")
    reopened = dispatch.dispatch_reopen(report=report, actor=None, reason="Liegt noch da")
    assert reopened.status == S.ASSIGNED and reopened.closed_at is None
    assert reopened.events.filter(kind=ReportEvent.Kind.REOPENED, note="Liegt noch da").exists()
    with pytest.raises(ValidationError):
        dispatch.dispatch_reopen(report=report, actor=None, reason="again")


def test_release_puts_the_ticket_back_in_the_unassigned_pool():
    report = _ticket()
    dispatch.dispatch_release(report=report, actor=None, reason="Crew fällt aus")
    report.refresh_from_db()
    assert report.status == S.NEW
    assert not report.assignments.filter(active=True).exists()
    props = {f["id"]: f["properties"] for f in open_tickets_geojson(now=timezone.now())["features"]}
    assert props[report.pk]["state"] == UNASSIGNED


def test_every_dispatcher_action_publishes_a_live_update_after_commit(
    django_capture_on_commit_callbacks, settings
):
    import redis

    from reports.live import channel_name

    client = redis.Redis.from_url(settings.LIVE_REDIS_URL)
    pubsub = client.pubsub()
    pubsub.subscribe(channel_name())
    pubsub.get_message(timeout=1)  # subscribe confirmation
    report = _ticket()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.dispatch_set_priority(report=report, priority=1, actor=None)
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    pubsub.close()
    assert message is not None
    assert f'"id": {report.pk}' in message["data"].decode()


def test_publishing_with_redis_down_does_not_break_the_change(
    django_capture_on_commit_callbacks, settings, caplog, monkeypatch
):
    from reports import live

    monkeypatch.setitem(live._state, "down_until", 0.0)
    settings.LIVE_REDIS_URL = "redis://127.0.0.1:1/0"
    report = _ticket()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.dispatch_set_priority(report=report, priority=3, actor=None)
        dispatch.dispatch_set_priority(report=report, priority=2, actor=None)
    report.refresh_from_db()
    assert report.priority == 2
    # One warning, then publishing pauses instead of waiting for Redis on every change.
    assert caplog.text.count("not published") == 1
