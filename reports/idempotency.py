"""What a client's Idempotency-Key did: looked up and recorded with the request's fingerprint.

The key arrives already scoped to its client (`core.idempotency`); here a key seen before
with another request's fingerprint is refused instead of answered.
"""

from reports.models import IdempotencyKey, Report

IDEMPOTENCY_KEY_REUSED = (
    "This Idempotency-Key was already used for a different request. "
    "Use a new key for a new submission."
)


class IdempotencyKeyReused(Exception):
    """The same key with a different request body (HTTP 422)."""

    def __init__(self) -> None:
        super().__init__(IDEMPOTENCY_KEY_REUSED)


def idempotency_earlier(*, scope: str, key: str, fingerprint: str = "") -> Report | None:
    """The report this key created before, or None; IdempotencyKeyReused when the key was
    used for another request."""
    row = IdempotencyKey.objects.filter(scope=scope, key=key).select_related("report").first()
    if row is None:
        return None
    if (row.response or {}).get("fingerprint", "") != fingerprint:
        raise IdempotencyKeyReused()
    return row.report


def idempotency_record(*, scope: str, key: str, fingerprint: str, report: Report) -> None:
    IdempotencyKey.objects.create(
        scope=scope, key=key, report=report, response={"fingerprint": fingerprint}
    )
