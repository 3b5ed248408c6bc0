"""Which release events a subscription hears, under which public name, and what it is sent.

The public names (``models.Event``) are a promise to receivers; the verbs of the release log
are not, so this mapping is the one place that reads them.
"""

from __future__ import annotations

import json
from typing import Any

from lib.links import absolute
from releases.models import Health, ReleaseEvent
from subscriptions.models import Event

VERBS: dict[str, str] = {
    "release_created": Event.CREATED,
    "scope_locked": Event.SCOPE_LOCKED,
    "sign_off_go": Event.SIGN_OFF,
    "sign_off_no_go": Event.SIGN_OFF,
    "sign_off_withdrawn": Event.SIGN_OFF,
    "decision_go": Event.DECISION,
    "decision_override": Event.DECISION,
    "decision_no_go": Event.DECISION,
    "deploy_started": Event.DEPLOY_STARTED,
    "deploy_finished": Event.DEPLOY_DONE,
    "rolled_back": Event.ROLLED_BACK,
    "released": Event.RELEASED,
    "review_saved": Event.REVIEW_WRITTEN,
}


def public_event(event: ReleaseEvent) -> str | None:
    """The public name of ``event``, or None when no subscription can follow it."""
    if event.verb == "health_changed":
        after = event.after if isinstance(event.after, dict) else {}
        return Event.UNHEALTHY.value if after.get("health") == Health.UNHEALTHY else None
    name = VERBS.get(event.verb)
    return str(name) if name else None


def body(event: ReleaseEvent, *, name: str, guid: str) -> str:
    """The JSON a delivery sends, serialised once: every attempt signs these very bytes."""
    release = event.release
    project = release.project
    payload: dict[str, Any] = {
        "event": name,
        "delivery": guid,
        "occurred_at": event.created_at.isoformat(),
        "summary": event.summary,
        "actor": event.actor.get_username() if event.actor_id else event.actor_label or "system",
        "project": {"slug": project.slug, "name": project.name},
        "release": {
            "id": release.pk,
            "version": release.version,
            "kind": release.kind,
            "status": release.status,
            "health": release.health,
            "environment": release.environment,
            "git_ref": release.git_ref,
            "commit_sha": release.commit_sha,
            "url": absolute(release.get_absolute_url()),
        },
        "change": {
            "verb": event.verb,
            "before": event.before,
            "after": event.after,
            "data": event.data,
        },
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
