"""The Redis cache, failing open: with Redis unreachable every page still answers.

Caches here hold only what can be recomputed (the live ranking) and counters of the rate
limits. When Redis does not answer, a read is a miss, a write is dropped, ``add`` succeeds (a
lock is granted, a one-time marker set), a counter counts from one (the limit is not
applied) — and a warning is logged, at most once every
``WARN_EVERY_SECONDS`` per process, so an outage is visible without flooding the log.
Connections time out after a second, so a request never waits long on a Redis that is gone.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 30.0


def _fails_open(default):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                self._unavailable(method.__name__, exc)
                return default(args, kwargs) if callable(default) else default

        return wrapper

    return decorate


class FailOpenRedisCache(RedisCache):
    _last_warning = 0.0

    def __init__(self, server, params):
        options = params.setdefault("OPTIONS", {})
        options.setdefault("socket_connect_timeout", 1)
        options.setdefault("socket_timeout", 1)
        super().__init__(server, params)

    def _unavailable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - FailOpenRedisCache._last_warning >= WARN_EVERY_SECONDS:
            FailOpenRedisCache._last_warning = now
            log.warning(
                "cache: Redis unavailable (%s on %s); answering as a miss and applying no rate limit",
                exc.__class__.__name__,
                operation,
            )

    get = _fails_open(lambda args, kwargs: args[1] if len(args) > 1 else kwargs.get("default"))(RedisCache.get)
    get_many = _fails_open(lambda args, kwargs: {})(RedisCache.get_many)
    has_key = _fails_open(False)(RedisCache.has_key)
    # ``add`` answers True ("the key was new"): a lock is taken, a one-time marker is set.
    add = _fails_open(True)(RedisCache.add)
    set = _fails_open(None)(RedisCache.set)
    set_many = _fails_open(lambda args, kwargs: [])(RedisCache.set_many)
    touch = _fails_open(False)(RedisCache.touch)
    delete = _fails_open(False)(RedisCache.delete)
    delete_many = _fails_open(None)(RedisCache.delete_many)
    incr = _fails_open(lambda args, kwargs: args[1] if len(args) > 1 else kwargs.get("delta", 1))(RedisCache.incr)
    clear = _fails_open(None)(RedisCache.clear)
