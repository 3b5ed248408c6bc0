"""A fixed-window request budget per client, counted in the shared cache."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class FixedWindowRateThrottle(SimpleRateThrottle):
    """One budget per client, counted in the shared cache so every web process sees it.

    A fixed window: each request adds one to the client's count for the current period (the
    minute of a "600/min" rate) and is refused once the count passes the rate, until the next
    period. That is one atomic increment per request — DRF's sliding log reads and writes the
    client's whole history, up to 600 timestamps, twice per request. A burst across the turn of
    a minute can reach twice the rate, which still stops a runaway CI loop.

    A subclass names its ``scope`` and says which requests count, and as whom (``client_key``).
    """

    # Parsed from the rate by SimpleRateThrottle.__init__ (read only when a rate is set).
    num_requests: int
    duration: int

    def client_key(self, request: Request) -> str | None:
        """Whose budget the request spends; ``None`` for a request that is not throttled."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        client = self.client_key(request)
        if client is None:
            return True
        now = self.timer()
        period = int(now // self.duration)
        key = self.cache_format % {"scope": self.scope, "ident": f"{client}-{period}"}
        self.retry_after = (period + 1) * self.duration - now
        return count_request(key, self.duration) <= self.num_requests

    def wait(self) -> float:
        return self.retry_after


def count_request(key: str, seconds: int) -> int:
    """Add one to the counter at ``key`` in the default cache and return it; the counter
    outlives the ``seconds`` it counts by a second, then expires."""
    client = _redis_client()
    if client is not None:
        # Redis: INCR and EXPIRE in one round trip.
        full_key = cache.make_and_validate_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, seconds + 1)
        try:
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            # The limit guards against runaway clients; it is not worth refusing CI its gate
            # answers while Redis is away. Counting resumes when Redis answers again.
            logger.warning("Rate limit not counted, the cache is unavailable: %r", exc)
            return 0
        return int(count)
    # Any other cache (files for the embedded default, memory in tests): add, else increment.
    if cache.add(key, 1, seconds + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls: this request starts a new count
        cache.add(key, 1, seconds + 1)
        return 1


_redis_clients: dict[str, redis.Redis] = {}


def _redis_client() -> redis.Redis | None:
    """A client of the default cache's Redis server when that is where the cache lives.

    Django's cache API has no atomic "increment or create with an expiry" (its Redis ``incr``
    is two round trips and needs the key to exist), so the counter talks to the same server
    and uses the cache's own key (prefix and version) for it.
    """
    config = settings.CACHES["default"]
    if not issubclass(import_string(config["BACKEND"]), RedisCache):
        return None
    location = config["LOCATION"]
    server = (location if isinstance(location, list | tuple) else location.split(","))[0]
    if server not in _redis_clients:
        options = config.get("OPTIONS", {})
        _redis_clients[server] = redis.Redis.from_url(
            server,
            socket_connect_timeout=options.get("socket_connect_timeout"),
            socket_timeout=options.get("socket_timeout"),
        )
    return _redis_clients[server]
