"""Which release events a subscription hears, under which public name, and what it is sent.

The public names (``models.Event``) are a promise to receivers; the verbs of the release log
are not, so this mapping is the one place that reads them.
"""

from __future__ import annotations

import json
from typing import Any

from lib.links import absolute
from releases.models import Health, Incident, ReleaseEvent
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
    "incident_recorded": Event.INCIDENT_OPENED,
    "incident_updated": Event.INCIDENT_UPDATED,
    "incident_resolved": Event.INCIDENT_RESOLVED,
}


def public_event(event: ReleaseEvent) -> str | None:
    """The public name of ``event``, or None when no subscription can follow it."""
    if event.verb == "health_changed":
        after = event.after if isinstance(event.after, dict) else {}
        return Event.UNHEALTHY.value if after.get("health") == Health.UNHEALTHY else None
    name = VERBS.get(event.verb)
    return str(name) if name else None


INCIDENT_EVENTS = (Event.INCIDENT_OPENED, Event.INCIDENT_UPDATED, Event.INCIDENT_RESOLVED)


def details(event: ReleaseEvent, *, name: str) -> dict[str, Any]:
    """What an event is about beyond the release, read once for all its deliveries: an incident
    event carries the incident as it stands now (an incident recorded after it was over is
    opened with its ``resolved_at`` already set)."""
    if name not in INCIDENT_EVENTS:
        return {}
    incident = Incident.objects.filter(pk=event.data.get("incident")).first()
    if incident is None:
        return {"incident": None}
    return {
        "incident": {
            "id": incident.pk,
            "title": incident.title,
            "severity": incident.severity,
            "started_at": incident.started_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "link": incident.link,
            "source": incident.source,
            "external_id": incident.external_id,
        }
    }


def body(event: ReleaseEvent, *, name: str, guid: str, about: dict[str, Any] | None = None) -> str:
    """The JSON a delivery sends, serialised once: every attempt signs these very bytes.
    ``about`` is the event's ``details``."""
    release = event.release
    project = release.project
    payload: dict[str, Any] = {
        "event": name,
        "delivery": guid,
        "occurred_at": event.created_at.isoformat(),
        "summary": event.summary,
        "actor": event.actor.get_username()
        if event.actor is not None
        else event.actor_label or "system",
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
        **(about or {}),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
