"""The Django cache on Redis, degrading to a miss when Redis is down.

Nothing the site stores in the cache is the only copy of anything: throttling counters,
memoised lookups. So while Redis is unreachable a read is a miss (the caller's default), a
write is dropped and a counter starts again from zero; the request goes on, and a warning
is logged at most once a minute per process. When Redis answers again the next call uses
it: nothing has to be restarted.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
LOG_INTERVAL_SECONDS = 60.0


class _Warner:
    """Logs the outage once per ``LOG_INTERVAL_SECONDS``, not once per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")

    def __call__(self, operation: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < LOG_INTERVAL_SECONDS:
                return
            self._last = now
        logger.warning("Redis cache unavailable (%s: %s); treating it as empty.",
                       operation, exc)


warn = _Warner()


class DegradingRedisCacheClient(RedisCacheClient):
    def _degrade(self, operation: str, fallback, call, *args):
        try:
            return call(*args)
        except REDIS_DOWN as exc:
            warn(operation, exc)
            return fallback

    def add(self, key, value, timeout):
        # True: the caller goes on as if it had stored the value (it would have, had Redis
        # been up), rather than as if somebody else held the key.
        return self._degrade("add", True, super().add, key, value, timeout)

    def get(self, key, default):
        return self._degrade("get", default, super().get, key, default)

    def set(self, key, value, timeout):
        return self._degrade("set", None, super().set, key, value, timeout)

    def touch(self, key, timeout):
        return self._degrade("touch", False, super().touch, key, timeout)

    def delete(self, key):
        return self._degrade("delete", False, super().delete, key)

    def get_many(self, keys):
        return self._degrade("get_many", {}, super().get_many, keys)

    def has_key(self, key):
        return self._degrade("has_key", False, super().has_key, key)

    def incr(self, key, delta):
        # A counter that cannot be read starts again from zero: limits fail open.
        return self._degrade("incr", delta, super().incr, key, delta)

    def set_many(self, data, timeout):
        return self._degrade("set_many", None, super().set_many, data, timeout)

    def delete_many(self, keys):
        return self._degrade("delete_many", None, super().delete_many, keys)

    def clear(self):
        return self._degrade("clear", False, super().clear)


class DegradingRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that never fails a request because
    Redis is unreachable. Give it short ``socket_connect_timeout`` / ``socket_timeout``
    OPTIONS, or an unreachable host holds each call for the operating system's timeout."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = DegradingRedisCacheClient
