"""The outbox: work still to do after a commit is a row, done after the commit, sent again by the
sweep when its message was lost, retried with back-off when it failed, never raised into the
change that recorded it."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from civicmap.celery import app as celery_app
from reports.models import OutboxItem, ReportPhoto
from reports.outbox import outbox_enqueue, outbox_handler, outbox_run, outbox_sweep, task_send
from reports.services import photos_pending_requeue, report_create
from reports.tasks import outbox_item_run_task
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

pytestmark = pytest.mark.django_db

CALLS: list[dict] = []
FAIL: dict[str, int] = {"times": 0}


@outbox_handler("test_note")
def _note(item: OutboxItem) -> None:
    if FAIL["times"] > 0:
        FAIL["times"] -= 1
        raise ConnectionError("the outside world is down")
    CALLS.append(item.payload)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    FAIL["times"] = 0


def _age(item: OutboxItem, seconds: float) -> None:
    OutboxItem.objects.filter(pk=item.pk).update(
        run_after=timezone.now() - timedelta(seconds=seconds)
    )


def test_work_runs_after_the_commit_not_before(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        item = outbox_enqueue(kind="test_note", payload={"n": 1})
        assert CALLS == []  # still inside the transaction
    assert len(callbacks) == 1
    assert CALLS == [{"n": 1}]
    item.refresh_from_db()
    assert item.done_at is not None and item.attempts == 1


def test_rolled_back_change_leaves_no_work(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                outbox_enqueue(kind="test_note", payload={"n": 1})
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert CALLS == [] and not OutboxItem.objects.exists()


def test_running_an_item_twice_does_the_work_once():
    item = outbox_enqueue(kind="test_note", payload={"n": 2})
    assert outbox_run(item_id=item.pk) is True
    assert outbox_run(item_id=item.pk) is False
    assert CALLS == [{"n": 2}]


def test_a_lost_message_is_sent_again_by_the_sweep(settings):
    settings.OUTBOX_SWEEP_AGE_SECONDS = 60
    item = outbox_enqueue(kind="test_note", payload={"n": 3})  # its message never comes
    assert outbox_sweep() == 0  # too young: its message may still be on its way
    _age(item, 61)
    assert outbox_sweep() == 1  # eager in tests: sent and run
    assert CALLS == [{"n": 3}]
    item.refresh_from_db()
    assert item.done_at is not None
    assert outbox_sweep() == 0


def test_a_failed_item_is_kept_and_retried_with_back_off(settings):
    settings.OUTBOX_SWEEP_AGE_SECONDS = 0
    settings.OUTBOX_RETRY_SECONDS = 30
    FAIL["times"] = 2
    item = outbox_enqueue(kind="test_note", payload={"n": 4})
    assert outbox_run(item_id=item.pk) is False  # the error is not raised
    item.refresh_from_db()
    assert item.done_at is None and item.attempts == 1
    assert "ConnectionError: the outside world is down" in item.last_error
    assert item.run_after > timezone.now() + timedelta(seconds=25)
    assert outbox_sweep() == 0  # backing off
    _age(item, 1)
    assert outbox_sweep() == 1  # fails again: next wait is twice as long
    item.refresh_from_db()
    assert item.attempts == 2 and item.run_after > timezone.now() + timedelta(seconds=55)
    _age(item, 1)
    outbox_sweep()
    item.refresh_from_db()
    assert item.done_at is not None and item.attempts == 3 and CALLS == [{"n": 4}]


def test_after_the_last_attempt_the_item_stays_with_its_error(settings):
    settings.OUTBOX_SWEEP_AGE_SECONDS = 0
    settings.OUTBOX_MAX_ATTEMPTS = 2
    FAIL["times"] = 5
    item = outbox_enqueue(kind="test_note")
    for _ in range(3):
        _age(item, 1)
        outbox_sweep()
    item.refresh_from_db()
    assert item.attempts == 2 and item.done_at is None and item.last_error


def test_an_unknown_kind_is_an_error_on_the_item_not_a_crash():
    item = outbox_enqueue(kind="nobody_handles_this")
    assert outbox_run(item_id=item.pk) is False
    item.refresh_from_db()
    assert "no outbox handler" in item.last_error


def test_coalesced_work_merges_into_the_pending_item(ticket):
    first = outbox_enqueue(kind="test_note", report=ticket, payload={"p": [1]}, coalesce=True)
    second = outbox_enqueue(kind="test_note", report=ticket, payload={"p": [2, 1]}, coalesce=True)
    assert second.pk == first.pk
    assert OutboxItem.objects.get(pk=first.pk).payload == {"p": [1, 2]}
    outbox_run(item_id=first.pk)
    third = outbox_enqueue(kind="test_note", report=ticket, payload={"p": [3]}, coalesce=True)
    assert third.pk != first.pk  # the first one is done: new work gets a new row


def test_tracking_mail_is_outbox_work_in_the_submitters_language(
    django_capture_on_commit_callbacks,
):
    from django.utils import translation

    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        report, _ = report_create(
            category="litter", location=NEUSTADT_POINT, email="anwohner@example.org"
        )
    item = OutboxItem.objects.get(report=report, kind="report_tracking_mail")
    assert item.done_at is not None and item.payload == {"language": "de"}
    assert len(mail.outbox) == 1 and report.tracking_token in mail.outbox[0].body


def test_a_photo_whose_message_was_lost_is_processed_by_the_sweep(settings):
    settings.OUTBOX_SWEEP_AGE_SECONDS = 60
    report, _ = report_create(
        category="litter", location=NEUSTADT_POINT, photos=[upload(jpeg_bytes())]
    )  # no commit in this test: the photo's message is never sent
    photo = report.photos.get()
    assert photo.state == ReportPhoto.State.PENDING
    assert photos_pending_requeue() == 0
    ReportPhoto.objects.filter(pk=photo.pk).update(queued_at=timezone.now() - timedelta(seconds=61))
    assert photos_pending_requeue() == 1
    photo.refresh_from_db()
    assert photo.state == ReportPhoto.State.READY and photo.thumbnail.name
    assert photos_pending_requeue() == 0


def test_sending_with_the_broker_down_returns_false_and_raises_nothing(monkeypatch):
    """(The fault drills in tests/faults/ stop a real Redis; here only the contract.)"""
    from kombu.exceptions import OperationalError

    from reports import outbox

    def refused(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setitem(outbox._send_state, "down_until", 0.0)
    monkeypatch.setattr(outbox_item_run_task, "apply_async", refused)
    celery_app.conf.task_always_eager = False
    try:
        assert task_send(outbox_item_run_task, (1,)) is False
        # and for a while it does not even try (the sweep catches up)
        assert outbox._send_state["down_until"] > 0
        assert task_send(outbox_item_run_task, (1,)) is False
    finally:
        celery_app.conf.task_always_eager = True


def test_a_change_with_redis_down_is_kept_and_its_publish_waits_for_the_sweep(
    ticket, settings, django_capture_on_commit_callbacks
):
    from django.core.cache import caches

    from reports import live, tilecache
    from reports.models import Report
    from reports.services import report_transition

    settings.CACHES = {
        **settings.CACHES,
        "tiles": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
    settings.LIVE_REDIS_URL = "redis://127.0.0.1:1/0"
    caches["tiles"].close()
    tilecache._state["down_until"] = live._state["down_until"] = 0.0
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report_transition(report=ticket, to=Report.Status.IN_PROGRESS)
        ticket.refresh_from_db()
        assert ticket.status == Report.Status.IN_PROGRESS
        item = OutboxItem.objects.get(kind="report_published", report=ticket)
        assert item.done_at is None and item.attempts == 1 and "TileCacheDown" in item.last_error
    finally:
        tilecache._state["down_until"] = live._state["down_until"] = 0.0
