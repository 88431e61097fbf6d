"""Work still to do is a row: the transactional outbox.

A change that needs something done outside PostgreSQL (a mail, a live push, a cache delete)
records it as an `OutboxItem` in the change's own transaction. After the commit the item is
carried out -- at once in this process (`inline` handlers) or by a Celery worker (a message on
the handler's queue that only says "look now"). Whatever is still pending after
OUTBOX_SWEEP_AGE_SECONDS (the message was lost, the broker was down, the worker died, the
handler failed) is sent again by the periodic sweep (`outbox_sweep`, Celery beat every
OUTBOX_SWEEP_SECONDS). Nothing here ever raises into the request that made the change.

API
---
Register a handler (in a module your app's `AppConfig.ready()` imports, so web, worker and
beat all know it)::

    from reports.outbox import outbox_handler

    @outbox_handler("resident_status_mail", queue="notifications")
    def _status_mail(item: OutboxItem) -> None:
        ...  # item.kind, item.report (may be None), item.payload (JSON)

Record work, inside the transaction of the change (it opens one when called outside)::

    from reports.outbox import outbox_enqueue

    outbox_enqueue(kind="resident_status_mail", report=report, payload={"language": "de"})

- `outbox_enqueue(*, kind, report=None, payload=None, coalesce=False) -> OutboxItem`.
  `coalesce=True` merges into a not-yet-started pending item of the same kind and report
  (lists in the payload are united, other keys overwritten) instead of adding a row -- for
  "refresh this report" work that is the same however often it is asked for.
- `outbox_handler(kind, *, queue=None, inline=False)`: `queue` is the Celery queue of the
  "look now" message (None: the default queue); `inline=True` runs the handler in the process
  that committed the change, right after the commit (for quick work such as a cache delete; on
  failure it is left to the sweep).
- A handler must be idempotent: it may run more than once (a redelivered message, a sweep that
  overlaps a slow worker). It runs inside a transaction that marks the item done, with the row
  locked (a second runner skips it). To retry later, raise: the error is logged and stored in
  `last_error`, the item waits OUTBOX_RETRY_SECONDS x 2^(attempts-1) (at most an hour) and the
  sweep sends it again, up to OUTBOX_MAX_ATTEMPTS attempts; after that it stays pending with its
  error for an operator to look at (admin, or `OutboxItem.objects.filter(done_at=None)`).
- `outbox_run(*, item_id) -> bool` runs one item now (what the Celery task calls).
- `outbox_sweep(*, now=None) -> int` sends every overdue item again; returns how many.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reports.models import OutboxItem, Report

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


@dataclass(frozen=True)
class Handler:
    kind: str
    function: Callable[[OutboxItem], None]
    queue: str | None
    inline: bool


_HANDLERS: dict[str, Handler] = {}


def outbox_handler(
    kind: str, *, queue: str | None = None, inline: bool = False
) -> Callable[[Callable[[OutboxItem], None]], Callable[[OutboxItem], None]]:
    def register(function: Callable[[OutboxItem], None]) -> Callable[[OutboxItem], None]:
        _HANDLERS[kind] = Handler(kind=kind, function=function, queue=queue, inline=inline)
        return function

    return register


def outbox_handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


def _merge(old: dict, new: dict) -> dict:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [v for v in value if v not in merged[key]]
        else:
            merged[key] = value
    return merged


@transaction.atomic
def outbox_enqueue(
    *,
    kind: str,
    report: Report | None = None,
    payload: dict | None = None,
    coalesce: bool = False,
) -> OutboxItem:
    payload = payload or {}
    report_id = report.pk if report is not None else None
    if coalesce:
        # A pending item another runner holds is skipped: it may already be past reading.
        earlier = (
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(kind=kind, report_id=report_id, done_at__isnull=True, attempts=0)
            .order_by("-id")
            .first()
        )
        if earlier is not None:
            earlier.payload = _merge(earlier.payload, payload)
            earlier.save(update_fields=["payload"])
            _after_commit(earlier.pk, kind)
            return earlier
    item = OutboxItem.objects.create(kind=kind, report_id=report_id, payload=payload)
    _after_commit(item.pk, kind)
    return item


def _after_commit(item_id: int, kind: str) -> None:
    transaction.on_commit(lambda: _start(item_id, kind), robust=True)


def _start(item_id: int, kind: str) -> None:
    handler = _HANDLERS.get(kind)
    if handler is not None and handler.inline:
        try:
            outbox_run(item_id=item_id)
        except Exception:  # never into the request; the sweep tries again
            logger.exception("outbox item %s (%s) did not run; the sweep will retry", item_id, kind)
        return
    _send(item_id, kind)


# After a failed send, skip sending for a while (the sweep catches up) instead of paying a
# connection attempt per change while the broker is down.
SEND_BACKOFF_SECONDS = 5.0
_send_state = {"down_until": 0.0}


def task_send(task, args: tuple, *, queue: str | None = None) -> bool:
    """Send a Celery message without ever raising: False when the broker is unreachable (the
    work is a row, and the sweep sends it again). Also for tasks outside the outbox."""
    if time.monotonic() < _send_state["down_until"]:
        return False
    options = {"queue": queue} if queue else {}
    if task.app.conf.task_always_eager:  # tests: run here, and let its errors show
        task.apply_async(args, **options)
        return True
    try:
        task.apply_async(args, retry=False, **options)
    except Exception as exc:  # kombu/redis raise many kinds; none may fail the caller
        _send_state["down_until"] = time.monotonic() + SEND_BACKOFF_SECONDS
        logger.warning("task %s%s not sent (%s); the sweep will send it", task.name, args, exc)
        return False
    return True


def _send(item_id: int, kind: str) -> bool:
    """Tell a worker to look at the item now. False when the broker is unreachable."""
    from reports.tasks import outbox_item_run_task  # tasks import this module

    handler = _HANDLERS.get(kind)
    return task_send(outbox_item_run_task, (item_id,), queue=handler.queue if handler else None)


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, settings.OUTBOX_RETRY_SECONDS * 2 ** max(attempts - 1, 0)))


def outbox_run(*, item_id: int) -> bool:
    """Carry out one item unless it is done or another runner holds it. True when it is done."""
    with transaction.atomic():
        item = (
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(pk=item_id, done_at__isnull=True)
            .first()
        )
        if item is None:
            return False
        handler = _HANDLERS.get(item.kind)
        error = ""
        try:
            if handler is None:
                raise LookupError(f"no outbox handler for kind {item.kind!r} in this process")
            with transaction.atomic():
                handler.function(item)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            logger.warning("outbox item %s (%s) failed: %s", item.pk, item.kind, error)
        item.attempts += 1
        now = timezone.now()
        if error:
            item.last_error = error
            item.run_after = now + _retry_delay(item.attempts)
            if item.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                logger.error(
                    "outbox item %s (%s) gave up after %s attempts: %s",
                    item.pk,
                    item.kind,
                    item.attempts,
                    error,
                )
        else:
            item.done_at = now
        item.save(update_fields=["attempts", "last_error", "run_after", "done_at"])
    return not error


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Send again every item pending for longer than OUTBOX_SWEEP_AGE_SECONDS (past its
    back-off); each is sent at most once per that age. Returns how many were sent."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_SWEEP_AGE_SECONDS)
    with transaction.atomic():
        due = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(
                done_at__isnull=True,
                run_after__lte=cutoff,
                attempts__lt=settings.OUTBOX_MAX_ATTEMPTS,
            )
            .order_by("run_after")
            .values_list("pk", "kind")[:SWEEP_BATCH]
        )
        OutboxItem.objects.filter(pk__in=[pk for pk, _ in due]).update(run_after=now)
    _send_state["down_until"] = 0.0  # the sweep itself came through the broker
    sent = sum(_send(pk, kind) for pk, kind in due)
    if due:
        logger.info("outbox sweep: %d overdue item(s), %d sent", len(due), sent)
    return sent
