"""``Authorization: Bearer <secret>``: reading the header, and the answers to a malformed one.

What a secret is worth — which token, acting as whom — is the app's: a subclass sets ``prefix``
and implements ``authenticate_secret``. DRF loads the subclass while ``rest_framework.views`` is
still being imported, so neither this module nor the subclass's may import it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

KEYWORD = "Bearer"


class BearerAuthentication(authentication.BaseAuthentication):
    """Bearer tokens whose secrets start with ``prefix``."""

    prefix = ""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer …”.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        if not secret.startswith(self.prefix):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return self.authenticate_secret(secret)

    def authenticate_secret(self, secret: str) -> tuple[Any, Any]:
        """``(user, token)`` for a well-formed secret; raise ``AuthenticationFailed`` otherwise."""
        raise NotImplementedError

    def authenticate_header(self, request: Request) -> str:
        # Being first in DEFAULT_AUTHENTICATION_CLASSES, this makes DRF answer a request without
        # credentials with 401 and this challenge instead of 403.
        return f'{KEYWORD} realm="api"'
