"""The Redis cache, failing open: when Redis cannot be reached, cache calls behave as if the key were absent.

The cache only holds what the site can live without for a while (rate-limit counters, the API key's last-use
marker); sessions are in the database. So an outage of Redis must not turn sign-in or the API into 500s:
each failed call logs a warning (at most one per `WARN_EVERY_SECONDS` per process) and returns the "nothing
cached" answer — `get` the default, `add` True (nothing there yet), `set`/`delete` False, `incr` the delta.
Rate limits therefore let requests through while Redis is down (logged), instead of refusing everyone.

After a failure the backend does not try Redis again for `RETRY_AFTER_SECONDS`, so an outage costs one
connection attempt per few seconds, not one per cache call. `/healthz` reports Redis by pinging it directly.
"""

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
RETRY_AFTER_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0

_lock = threading.Lock()
_down_until = 0.0
_last_warning = 0.0


def _note_failure(operation: str, exc: Exception) -> None:
    global _down_until, _last_warning
    now = time.monotonic()
    with _lock:
        _down_until = now + RETRY_AFTER_SECONDS
        warn = now - _last_warning >= WARN_EVERY_SECONDS
        if warn:
            _last_warning = now
    if warn:
        logger.warning(
            "Redis cache unavailable (%s: %s); continuing without the cache (rate limits fail open).",
            operation,
            exc,
        )


def redis_marked_down() -> bool:
    return time.monotonic() < _down_until


def reset() -> None:
    """Forget a recorded outage (tests, and after Redis is back when one does not want to wait)."""
    global _down_until, _last_warning
    with _lock:
        _down_until = 0.0
        _last_warning = 0.0


def _fail_open(name: str, fallback):
    def method(self, *args, **kwargs):
        if redis_marked_down():
            return fallback(*args, **kwargs)
        try:
            return getattr(super(FailOpenRedisCache, self), name)(*args, **kwargs)
        except UNAVAILABLE as exc:
            _note_failure(name, exc)
            return fallback(*args, **kwargs)

    method.__name__ = name
    return method


def _default(key, default=None, version=None):
    return default


def _incr_fallback(key, delta=1, version=None):
    return delta


class FailOpenRedisCache(RedisCache):
    get = _fail_open("get", _default)
    get_many = _fail_open("get_many", lambda keys, version=None: {})
    has_key = _fail_open("has_key", lambda key, version=None: False)
    add = _fail_open("add", lambda *a, **k: True)
    set = _fail_open("set", lambda *a, **k: False)
    set_many = _fail_open("set_many", lambda data, timeout=None, version=None: list(data))
    touch = _fail_open("touch", lambda *a, **k: False)
    delete = _fail_open("delete", lambda *a, **k: False)
    delete_many = _fail_open("delete_many", lambda *a, **k: None)
    incr = _fail_open("incr", _incr_fallback)
    decr = _fail_open("decr", lambda key, delta=1, version=None: -delta)
    clear = _fail_open("clear", lambda: False)
