"""API tokens: creating, revoking and finding them."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from releases.events import log_project_event
from releases.models import (
    ApiToken,
    Project,
    ProjectEventKind,
)

TOKEN_PREFIX = "glt_"


# A token's last use is written at most this often: a busy CI job costs one write a minute,
# not one per request.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(secret: str) -> str:
    """SHA-256 is enough here: the secret is 32 random bytes, not a password to stretch."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, by: Any, name: str, project: Project | None = None) -> tuple[ApiToken, str]:
    """A personal token acting as ``by``, or a project token for ``project``'s CI.

    Returns the token and its secret. Only a hash of the secret is stored, so this is the one
    moment anyone sees it.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what uses it, e.g. “deploy-bot”."})
    if len(name) > (ApiToken._meta.get_field("name").max_length or 0):
        raise ValidationError({"name": "Use at most 100 characters."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            kind=ApiToken.Kind.PERSONAL if project is None else ApiToken.Kind.PROJECT,
            user=by if project is None else None,
            project=project,
            prefix=secret[: ApiToken._meta.get_field("prefix").max_length],
            hashed_secret=hash_token(secret),
            created_by=by,
        )
        _log_token(token, by=by, action="created", before=None, after="active")
    return token, secret


def revoke_api_token(token: ApiToken, *, by: Any) -> ApiToken:
    """Revoked tokens stop working at once and stay listed for the record."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
        if revoked:
            _log_token(token, by=by, action="revoked", before="active", after="revoked")
    return token


def _log_token(token: ApiToken, *, by: Any, action: str, before: str | None, after: str) -> None:
    """The token's name and state; never its secret, nor the hash of it."""
    personal = token.kind == ApiToken.Kind.PERSONAL
    log_project_event(
        token.project,
        actor=by,
        kind=ProjectEventKind.PERSONAL_TOKEN if personal else ProjectEventKind.PROJECT_TOKEN,
        action=action,
        summary=f"{'Personal' if personal else 'Project'} token “{token.name}” {action}",
        before={"name": token.name, "state": before} if before else None,
        after={"name": token.name, "state": after},
        data={"token": token.pk, "user": token.user_id} if personal else {"token": token.pk},
    )


def find_api_token(secret: str) -> ApiToken | None:
    """The active token with this secret (and its user), noting that it was used."""
    # Every API request asks this, so the lookup is the least the caller needs: one row by its
    # unique hash, with the person a personal token acts as (a project token needs only the
    # project's id).
    try:
        token = ApiToken.objects.select_related("user").get(
            hashed_secret=hash_token(secret), revoked_at__isnull=True
        )
    except ApiToken.DoesNotExist:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
