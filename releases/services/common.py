"""What every release service shares: the row lock, the status transition, field checks and
who to tell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib import outbound
from lib.errors import NotAllowed, Refused
from lib.links import validate_link
from releases import signals
from releases.events import Actor, log_event, log_project_change
from releases.models import (
    Project,
    ProjectMembership,
    Release,
    ReleaseEvent,
    Role,
    RoleAssignment,
    RollbackPlan,
)

User = get_user_model()


def lock_release(release: Release) -> Release:
    """Re-read the release under a row lock; callers continue with the fresh copy.

    Every change to a release takes this lock first, so concurrent requests on one release run
    one after the other and each re-checks the state the previous one left.
    """
    # Only the release's row: FOR UPDATE on the join would lock its project's row too, so every
    # change in a project would wait for every other, and a service that locks the project first
    # (an incident report) could deadlock with one that locks a release first.
    return (
        Release.objects.select_for_update(of=("self",)).select_related("project").get(pk=release.pk)
    )


def refuse_unless(release: Release, target: str, action: str) -> None:
    if not release.can_transition_to(target):
        raise Refused(f"Cannot {action}: the release is {release.get_status_display().lower()}.")


def transition(
    release: Release,
    target: str,
    *,
    by: Actor,
    verb: str,
    summary: str,
    stamp: str | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: Iterable[str] = (),
) -> ReleaseEvent:
    old = release.status
    release.status = target
    fields = ["status", "updated_at", *extra_fields]
    if stamp:
        setattr(release, stamp, timezone.now())
        fields.append(stamp)
    release.save(update_fields=fields)
    event = log_event(
        release,
        actor=by,
        verb=verb,
        summary=summary,
        before={"status": old},
        after={"status": target},
        data=data,
    )
    signals.status_changed.send(
        sender=Release, release=release, old=old, new=target, actor=by, event=event
    )
    return event


def snapshot_fields(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    out = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif hasattr(value, "pk"):
            value = str(value)
        out[name] = value
    return out


def reject_unknown_fields(given: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """A caller naming a field the service does not take is a programming error, not bad input."""
    unknown = set(given) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


# Fields that hold a link to another site, drawn as a link on pages: http(s) only. Those that
# Greenlight itself calls are also held to the egress policy as far as the URL alone tells (a
# loopback or private address); lib.outbound checks again where it connects.
LINK_FIELDS = ("url", "evidence_url", "repository_url", "slack_webhook_url", "rollback_webhook_url")


CALLED_FIELDS = ("slack_webhook_url", "rollback_webhook_url")


def check_links(values: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming each link field whose value is not acceptable."""
    errors: dict[str, list[str]] = {}
    for name in LINK_FIELDS:
        value = values.get(name)
        if not value:
            continue
        try:
            validate_link(str(value))
            if name in CALLED_FIELDS:
                outbound.check_url(str(value))
        except ValidationError as exc:
            errors[name] = exc.messages
        except outbound.OutboundError as exc:
            errors[name] = [exc.message]
    if errors:
        raise ValidationError(errors)


def apply_changes(obj: Any, changes: dict[str, Any]) -> tuple[dict, dict, list[str]]:
    """Set the fields that actually change; return (before, after, changed field names)."""
    check_links(changes)
    changed = [name for name, value in changes.items() if getattr(obj, name) != value]
    before = snapshot_fields(obj, changed)
    for name in changed:
        setattr(obj, name, changes[name])
    return before, snapshot_fields(obj, changed), changed


def people_on(release: Release, roles: Iterable[str] | None = None) -> list[Any]:
    assignments = release.assignments.select_related("user")
    if roles is not None:
        assignments = assignments.filter(role__in=list(roles))
    seen: dict[int, Any] = {}
    for assignment in assignments:
        seen.setdefault(assignment.user_id, assignment.user)
    return list(seen.values())


def release_managers(release: Release) -> list[Any]:
    """The release's release managers and the project's: who hears of overrides and escalations."""
    people = {user.pk: user for user in people_on(release, roles=(Role.RELEASE_MANAGER,))}
    for membership in ProjectMembership.objects.filter(
        project_id=release.project_id, role=Role.RELEASE_MANAGER
    ).select_related("user"):
        people.setdefault(membership.user_id, membership.user)
    return list(people.values())


def content_changed(release: Release, *, reason: str, event: ReleaseEvent, by: Actor) -> None:
    """What people approved has changed: sign-offs go stale, an approval is withdrawn (both by
    ``approvals``, which listens)."""
    signals.approved_content_changed.send(
        sender=Release, release=release, reason=reason, event=event, actor=by
    )


def save_project_row(
    project: Project, row: Any, fields: dict[str, Any], what: str, *, by: Any, kind: str
) -> Any:
    """Create or change a row the project owns (a checklist template item, a freeze window)."""
    if row.pk is None:
        row.project = project
    elif row.project_id != project.pk:
        raise NotAllowed(f"That {what} belongs to another project.")
    for name, value in fields.items():
        setattr(row, name, value)
    with transaction.atomic():
        row.full_clean(exclude=["project"])
        log_project_change(project, actor=by, kind=kind, row=row)
        row.save()
    return row


def delete_project_row(row: Any, *, by: Any, kind: str) -> None:
    with transaction.atomic():
        log_project_change(row.project, actor=by, kind=kind, row=row, removed=True)
        row.delete()


def is_release_manager(release: Release, user: Actor) -> bool:
    """Assigned as release manager on the release, or one of the project's release managers."""
    if not isinstance(user, User):
        return False
    if user.is_superuser:
        return True
    return (
        RoleAssignment.objects.filter(
            release=release, user=user, role=Role.RELEASE_MANAGER
        ).exists()
        or ProjectMembership.objects.filter(
            project_id=release.project_id, user=user, role=Role.RELEASE_MANAGER
        ).exists()
    )


def standby_roster(release: Release) -> list[Any]:
    """Who stands by while the release is deployed and watched: its developers, DevOps and
    release managers, and whoever the rollback plan names to make the call."""
    people = {
        user.pk: user for user in people_on(release, roles=("dev", "devops", "release_manager"))
    }
    plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
    if plan is not None and plan.decider is not None:
        people.setdefault(plan.decider.pk, plan.decider)
    return list(people.values())
