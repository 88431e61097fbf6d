"""Tell open dispatcher maps that a report changed: a small message on Redis pub/sub.

Publishing happens after the transaction commits and never fails it (`reports.publish`, an
outbox item run right after the commit): with Redis down the maps fall back to polling.
"""

import json
import logging
import time
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def channel_name() -> str:
    """The pub/sub channel; pub/sub ignores Redis database numbers, so by default the channel is
    named after the database, which keeps parallel installations (and test runs) apart."""
    if settings.LIVE_CHANNEL:
        return settings.LIVE_CHANNEL
    return f"civicmap:{connection.settings_dict['NAME']}:reports"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Short timeouts: a publish is on the request path of whoever changed the report.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


# After a failure, skip publishing for a while instead of paying a connect timeout per change.
BACKOFF_SECONDS = 10.0
_state = {"down_until": 0.0}


def report_changed(*, report_id: int, kind: str = "", strict: bool = False) -> None:
    """Publish "report changed". Errors are logged, or raised with `strict` (the outbox item
    that asked for it is then retried)."""
    if time.monotonic() < _state["down_until"]:
        if strict:
            raise redis.ConnectionError("live Redis marked unreachable; retried later")
        return
    message = json.dumps({"type": "report", "id": report_id, "kind": kind})
    try:
        _client(settings.LIVE_REDIS_URL).publish(channel_name(), message)
    except redis.RedisError as exc:
        _state["down_until"] = time.monotonic() + BACKOFF_SECONDS
        logger.warning("live update for report %s not published: %s", report_id, exc)
        if strict:
            raise
