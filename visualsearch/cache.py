"""Django's cache on the Redis that already runs (the queue's), shared by every web process.

Throttles and the log-in limit count here, so two gunicorn workers (or two machines) share one
budget. When Redis is down the site keeps serving: a read is a miss, a write is dropped and an
increment starts again at 1, so limits fail open for as long as the broker is away (logged once
per process and outage), rather than every page failing.
"""

from __future__ import annotations

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class ResilientRedisCache(RedisCache):
    _warned = False

    def _down(self, error: Exception) -> None:
        if not ResilientRedisCache._warned:
            logger.warning("Cache (Redis) unreachable, limits fail open: %s", error)
            ResilientRedisCache._warned = True

    def _call(self, name: str, fallback, *args, **kwargs):
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except DOWN as error:
            self._down(error)
            return fallback
        ResilientRedisCache._warned = False
        return result

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, key, value, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", True, key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", delta, key, delta, version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def clear(self):
        return self._call("clear", False)
