"""API tokens at the API's door: whom a bearer token acts as, its rate, and who acts.

``Authorization: Bearer glt_…`` carries either a personal token (the request acts as its user,
with exactly that user's rights) or a project token (the request acts as
``access.ProjectTokenUser``, a machine scoped to one project). Session authentication for the
browser and the browsable API stays in ``REST_FRAMEWORK``.

DRF loads ``TokenAuthentication`` and ``TokenRateThrottle`` while ``rest_framework.views`` is
still being imported (they are its defaults): this module must not import it, nor
``rest_framework.generics``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from lib.rest.authentication import KEYWORD, BearerAuthentication
from lib.rest.throttling import FixedWindowRateThrottle
from releases.access import OWN_INBOX, ProjectTokenUser
from releases.events import Actor
from releases.models import ApiToken
from releases.services.tokens import TOKEN_PREFIX, find_api_token


def principal_for(token: ApiToken) -> Any:
    if token.kind == ApiToken.Kind.PROJECT:
        assert token.project_id is not None  # a project token has its project (constraint)
        return ProjectTokenUser(token_id=token.pk, project_id=token.project_id, name=token.name)
    return token.user


class TokenAuthentication(BearerAuthentication):
    """Personal and project tokens; only a SHA-256 of each secret is stored."""

    prefix = TOKEN_PREFIX

    def authenticate_secret(self, secret: str) -> tuple[Any, ApiToken]:
        token = find_api_token(secret)
        if token is None:
            # Unknown and revoked tokens answer alike: the caller learns nothing about either.
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.kind == ApiToken.Kind.PERSONAL:
            assert token.user is not None  # a personal token has its user (constraint)
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("This token's user is deactivated.")
        return principal_for(token), token


class TokenRateThrottle(FixedWindowRateThrottle):
    """One budget per token (``API_TOKEN_RATE``).

    Browser sessions are not throttled: people click slower than a runaway CI loop.
    """

    scope = "token"

    def client_key(self, request: Request) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


def actor(request: Request) -> Actor:
    """``by=`` for services: the person, or the project token's label ("CI token deploy-bot")."""
    user = request.user
    if isinstance(user, ProjectTokenUser):
        return user.label
    if isinstance(user, AnonymousUser):
        raise exceptions.NotAuthenticated()
    return user


class PeopleOnly(BasePermission):
    """What belongs to a person, such as their notifications: a project token is a machine
    with no inbox, so it is refused (403) rather than shown an empty list."""

    message = OWN_INBOX.refusal

    def has_permission(self, request: Request, view: Any) -> bool:
        return OWN_INBOX.allows(request.user)


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "releases.api.tokens.TokenAuthentication"
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
