"""API authentication with bearer tokens, and rate limits for token clients.

``Authorization: Bearer glt_…`` carries either a personal token (the request acts as its user,
with exactly that user's rights) or a project token (the request acts as
``permissions.ProjectTokenUser``, a machine scoped to one project). Session authentication for
the browser and the browsable API stays in ``REST_FRAMEWORK``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from releases.access import ProjectTokenUser
from releases.models import ApiToken
from releases.services.tokens import TOKEN_PREFIX, find_api_token

KEYWORD = "Bearer"

logger = logging.getLogger(__name__)


def principal_for(token: ApiToken) -> Any:
    if token.kind == ApiToken.Kind.PROJECT:
        assert token.project_id is not None  # a project token has its project (constraint)
        return ProjectTokenUser(token_id=token.pk, project_id=token.project_id, name=token.name)
    return token.user


class TokenAuthentication(authentication.BaseAuthentication):
    """Personal and project tokens; only a SHA-256 of each secret is stored."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer …”.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        if not secret.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = find_api_token(secret)
        if token is None:
            # Unknown and revoked tokens answer alike: the caller learns nothing about either.
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.kind == ApiToken.Kind.PERSONAL:
            assert token.user is not None  # a personal token has its user (constraint)
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("This token's user is deactivated.")
        return principal_for(token), token

    def authenticate_header(self, request: Request) -> str:
        # Being first in DEFAULT_AUTHENTICATION_CLASSES, this makes DRF answer a request without
        # credentials with 401 and this challenge instead of 403.
        return f'{KEYWORD} realm="api"'


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per token, counted in the shared cache so every web process sees it.

    A fixed window: each request adds one to the token's count for the current period (the
    minute of ``API_TOKEN_RATE``) and is refused once the count passes the rate, until the next
    period. That is one atomic increment per request — DRF's sliding log reads and writes the
    token's whole history, up to 600 timestamps, twice per request. A burst across the turn of
    a minute can reach twice the rate, which still stops a runaway CI loop.

    Browser sessions are not throttled: people click slower than a runaway CI loop.
    """

    scope = "token"
    # Parsed from the rate by SimpleRateThrottle.__init__ (read only when a rate is set).
    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or not isinstance(request.auth, ApiToken):
            return True
        now = self.timer()
        period = int(now // self.duration)
        key = self.cache_format % {"scope": self.scope, "ident": f"{request.auth.pk}-{period}"}
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


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "releases.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=KEYWORD, bearer_format="glt_…"
        )
        return {
            **scheme,
            "description": "A personal token (acts as its user) or a project token (CI, one "
            "project). Create them on your API tokens page or in the project's settings.",
        }
