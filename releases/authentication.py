"""API authentication with bearer tokens, and rate limits for token clients.

``Authorization: Bearer glt_…`` carries either a personal token (the request acts as its user,
with exactly that user's rights) or a project token (the request acts as
``permissions.ProjectTokenUser``, a machine scoped to one project). Session authentication for
the browser and the browsable API stays in ``REST_FRAMEWORK``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from releases import services
from releases.models import ApiToken
from releases.permissions import ProjectTokenUser

KEYWORD = "Bearer"


def principal_for(token: ApiToken) -> Any:
    if token.kind == ApiToken.Kind.PROJECT:
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
        if not secret.startswith(services.TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = services.find_api_token(secret)
        if token is None:
            # Unknown and revoked tokens answer alike: the caller learns nothing about either.
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.kind == ApiToken.Kind.PERSONAL and not token.user.is_active:
            raise exceptions.AuthenticationFailed("This token's user is deactivated.")
        return principal_for(token), token

    def authenticate_header(self, request: Request) -> str:
        # Being first in DEFAULT_AUTHENTICATION_CLASSES, this makes DRF answer a request without
        # credentials with 401 and this challenge instead of 403.
        return f'{KEYWORD} realm="api"'


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per token, counted in the shared cache so every web process sees it.

    Browser sessions are not throttled: people click slower than a runaway CI loop.
    """

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


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
