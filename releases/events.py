"""The one way anything writes to the release event log.

Every service calls ``log_event`` inside its own transaction, so a change and its event are
committed together or not at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from releases.models import Release, ReleaseEvent

# Who did something: a person, or a label for a machine ("CI token deploy-bot", "poller").
Actor = AbstractBaseUser | str | None


def actor_fields(actor: Actor) -> dict[str, Any]:
    if isinstance(actor, AbstractBaseUser):
        return {"actor": actor, "actor_label": ""}
    return {"actor": None, "actor_label": actor or "system"}


def log_event(
    release: Release,
    *,
    actor: Actor,
    verb: str,
    summary: str,
    before: Any = None,
    after: Any = None,
    data: dict[str, Any] | None = None,
) -> ReleaseEvent:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("log_event() must run inside the transaction of the change it records.")
    return ReleaseEvent.objects.create(
        release=release,
        verb=verb,
        summary=summary[:500],
        before=before,
        after=after,
        data=data or {},
        **actor_fields(actor),
    )
