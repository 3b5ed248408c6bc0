"""The one way anything writes to the event logs: the release log and the project log.

Every service calls ``log_event`` (a release changed) or ``log_project_event`` /
``log_project_change`` (a project's settings changed) inside its own transaction, so a change
and its event are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import models, transaction

from releases import signals
from releases.models import Project, ProjectEvent, ProjectEventKind, Release, ReleaseEvent

# Who did something: a person, or a label for a machine ("CI token deploy-bot", "poller").
Actor = User | str | None


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
    event = ReleaseEvent.objects.create(
        release=release,
        verb=verb,
        summary=summary[:500],
        before=before,
        after=after,
        data=data or {},
        **actor_fields(actor),
    )
    transaction.on_commit(lambda: signals.event_logged.send(sender=ReleaseEvent, event=event))
    return event


# --- the project log ----------------------------------------------------------------------------

# A field named like one of these holds a credential, whatever model it is on: its value never
# reaches the log, only that it changed. A model may also name such fields in ``audit_secrets``.
SECRET_NAME = re.compile(
    r"secret|password|passwd|token|credential|api_?key|private_?key|webhook_url", re.IGNORECASE
)
HIDDEN = "hidden"
CREDENTIALS_CHANGED = "credentials changed"


def log_project_event(
    project: Project | None,
    *,
    actor: Actor,
    kind: str,
    action: str,
    summary: str,
    before: Any = None,
    after: Any = None,
    data: dict[str, Any] | None = None,
) -> ProjectEvent:
    """Record one change to a project (``project`` None: to a person's own access).

    Like ``log_event``, it must run inside the transaction of the change, so that a change that
    fails leaves no event and an event never describes a change that did not happen.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "log_project_event() must run inside the transaction of the change it records."
        )
    who = actor_fields(actor)
    if who["actor"] is not None:
        # The name stays in the record if the account is deleted later.
        who["actor_label"] = who["actor"].get_username()[:120]
    return ProjectEvent.objects.create(
        project=project,
        kind=kind,
        action=action,
        summary=summary[:500],
        before=before,
        after=after,
        data=data or {},
        **who,
    )


def log_project_change(
    project: Project | None,
    *,
    actor: Actor,
    kind: str,
    row: models.Model,
    removed: bool = False,
    data: dict[str, Any] | None = None,
) -> ProjectEvent | None:
    """Record a project row being added, changed or removed, field by field.

    Call it with ``row`` changed (and cleaned) in memory but not yet written, or about to be
    deleted: the stored row is the "before". The instance itself cannot tell, since a settings
    form may have filled it in before the service was called. Every field of the model is
    compared, so a field added to the model later is audited without more code;
    ``audit_ignore`` on a model names the fields a machine keeps up to date (health, polling
    state) rather than a person. Nothing changed: no event, and None.
    """
    adding = row._state.adding or row.pk is None
    stored = None if adding else type(row)._base_manager.filter(pk=row.pk).first()
    fields = audited_fields(type(row))
    if removed:
        action, before, after = "removed", _values(stored or row, fields), None
        names: list[str] = []
    elif stored is None:
        action, before, after = "added", None, _values(row, fields)
        names = []
    else:
        changed = [f for f in fields if getattr(stored, f.attname) != getattr(row, f.attname)]
        if not changed:
            return None
        action = "changed"
        before = _values(stored, changed)
        after = _values(row, changed, changed_from=stored)
        names = [_label(f) for f in changed]
    summary = f"{_kind_label(kind)} “{row}” {action}"
    if names:
        summary += ": " + ", ".join(dict.fromkeys(names))
    return log_project_event(
        project,
        actor=actor,
        kind=kind,
        action=action,
        summary=summary,
        before=before,
        after=after,
        data={**({"id": row.pk} if row.pk else {}), **(data or {})},
    )


def audited_fields(model: type[models.Model]) -> list[models.Field]:
    """The model's own settings: every column but its key, its project, its automatic
    timestamps and what it lists in ``audit_ignore``."""
    ignore = set(getattr(model, "audit_ignore", ()))
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key
        and field.name != "project"
        and field.name not in ignore
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
    ]


def is_secret(field: models.Field) -> bool:
    model = field.model
    return field.name in getattr(model, "audit_secrets", ()) or bool(SECRET_NAME.search(field.name))


def snapshot(row: models.Model) -> dict[str, Any]:
    """The row's audited fields as the log writes them (credentials hidden)."""
    return _values(row, audited_fields(type(row)))


def _values(
    row: models.Model, fields: list[models.Field], *, changed_from: models.Model | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        value = getattr(row, field.attname)
        if is_secret(field):
            # Whether one was set is not secret; what it is, is.
            if changed_from is not None and value:
                out[field.name] = CREDENTIALS_CHANGED
            else:
                out[field.name] = HIDDEN if value else ""
        elif field.is_relation:
            related = getattr(row, field.name) if value is not None else None
            out[field.name] = str(related) if related is not None else None
        else:
            out[field.name] = plain(value)
    return out


def plain(value: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _label(field: models.Field) -> str:
    return "credentials" if is_secret(field) else str(field.verbose_name)


def _kind_label(kind: str) -> str:
    try:
        return ProjectEventKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()
