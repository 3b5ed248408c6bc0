"""Django's Redis cache, made optional: when Redis does not answer, the cache is empty.

Greenlight's cache only saves work (rendered dashboard rows, rate-limit counters); nothing in it is
the only copy of anything. So a Redis outage must not turn pages and API calls into errors: a read
misses, a write is dropped, and a warning is logged, while sessions and every change live in the
database and carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


def _or_when_down(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Any]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def guarded(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except redis.RedisError as exc:
                logger.warning("Cache unavailable, %s skipped: %r", method.__name__, exc)
                return fallback(*args, **kwargs)

        return guarded

    return decorate


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _empty(*args: Any, **kwargs: Any) -> dict:
    return {}


def _all_failed(data: dict[str, Any], *args: Any, **kwargs: Any) -> list[str]:
    return list(data)


def _missing(key: Any, *args: Any, **kwargs: Any) -> int:
    # What Django's caches raise for a key that is not there.
    raise ValueError(f"Key {key!r} not found (the cache is unavailable).")


class ForgivingRedisCache(RedisCache):
    """``RedisCache`` whose every operation degrades to "nothing cached" while Redis is down."""

    get = _or_when_down(_default)(RedisCache.get)
    get_many = _or_when_down(_empty)(RedisCache.get_many)
    has_key = _or_when_down(_false)(RedisCache.has_key)
    add = _or_when_down(_false)(RedisCache.add)
    set = _or_when_down(_nothing)(RedisCache.set)
    set_many = _or_when_down(_all_failed)(RedisCache.set_many)
    touch = _or_when_down(_false)(RedisCache.touch)
    delete = _or_when_down(_false)(RedisCache.delete)
    delete_many = _or_when_down(_nothing)(RedisCache.delete_many)
    incr = _or_when_down(_missing)(RedisCache.incr)
    clear = _or_when_down(_false)(RedisCache.clear)
