"""The default cache: Redis shared by every web process, this process's memory while Redis is
unreachable.

Rate limits (submissions per address and e-mail, flags, Open311 posts, confirmations) count in
the default cache. In each process's own memory, two web processes let twice the limit through;
in Redis they share one count. A limiter must never block or fail a submission, so when Redis
does not answer within a fraction of a second the count goes on in local memory (a per-process
limit, as before) and Redis is tried again after `RETRY_SECONDS`.
"""

import logging
from time import monotonic

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 15.0
_FAILURES = (RedisError, OSError)


class FailoverRedisCache(BaseCache):
    def __init__(self, server: str, params: dict) -> None:
        super().__init__(params)
        options = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
        options.update(params.get("OPTIONS", {}))
        self.shared = RedisCache(server, {**params, "OPTIONS": options})
        self.local = LocMemCache(f"failover:{server}:{params.get('KEY_PREFIX', '')}", params)
        self._retry_at = 0.0

    @property
    def redis_up(self) -> bool:
        return monotonic() >= self._retry_at

    def _do(self, name: str, *args, **kwargs):
        if self.redis_up:
            try:
                return getattr(self.shared, name)(*args, **kwargs)
            except _FAILURES as error:
                self._retry_at = monotonic() + RETRY_SECONDS
                logger.warning(
                    "cache: Redis unreachable (%s); counting in this process for %.0f s",
                    error,
                    RETRY_SECONDS,
                )
        return getattr(self.local, name)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._do("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._do("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._do("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._do("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._do("delete", key, version)

    def get_many(self, keys, version=None):
        return self._do("get_many", keys, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._do("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._do("delete_many", keys, version)

    def has_key(self, key, version=None):
        return self._do("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._do("incr", key, delta, version)

    def clear(self) -> None:
        """Only this installation's keys (KEY_PREFIX), never the whole Redis database: it is
        shared with the broker and the tile cache."""
        self.local.clear()
        if not self.key_prefix:
            return
        try:
            client = self.shared._cache.get_client(write=True)
            keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        except _FAILURES as error:
            self._retry_at = monotonic() + RETRY_SECONDS
            logger.warning("cache: Redis unreachable while clearing (%s)", error)

    def close(self, **kwargs) -> None:
        self.shared.close(**kwargs)
