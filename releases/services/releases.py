"""Creating a release and editing its plan."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lib.errors import Refused
from releases import signals
from releases.events import Actor, log_event
from releases.models import (
    COMMIT_SHA_MESSAGE,
    ChecklistItem,
    ChecklistTemplate,
    Project,
    ProjectMembership,
    Release,
    RoleAssignment,
    RollbackPlan,
    clean_commit_sha,
)
from releases.services.common import (
    apply_changes,
    content_changed,
    lock_release,
    reject_unknown_fields,
    snapshot_fields,
)

User = get_user_model()


RELEASE_EDITABLE_FIELDS = (
    "title",
    "kind",
    "git_ref",
    "commit_sha",
    "environment",
    "code_freeze_at",
    "go_no_go_at",
    "deploy_window_start",
    "deploy_window_end",
    "monitoring_ends_at",
)


def _validate_plan(values: dict[str, Any]) -> None:
    errors = {}
    start, end = values.get("deploy_window_start"), values.get("deploy_window_end")
    if start and end and end <= start:
        errors["deploy_window_end"] = "The deploy window must end after it starts."
    freeze, go = values.get("code_freeze_at"), values.get("go_no_go_at")
    if freeze and go and go < freeze:
        errors["go_no_go_at"] = "The go/no-go cannot come before the code freeze."
    if go and start and start < go:
        errors["deploy_window_start"] = "The deploy window cannot open before the go/no-go."
    monitoring = values.get("monitoring_ends_at")
    if monitoring and (end or start) and monitoring < (end or start):
        errors["monitoring_ends_at"] = "Monitoring cannot end before the deploy window."
    if errors:
        raise ValidationError(errors)


def create_release(project: Project, *, by: Actor, version: str, **fields: Any) -> Release:
    reject_unknown_fields(fields, RELEASE_EDITABLE_FIELDS, "release")
    version = version.strip()
    if not version:
        raise ValidationError({"version": "A release needs a version."})
    if "commit_sha" in fields:
        fields["commit_sha"] = _clean_sha(fields["commit_sha"])
    _validate_plan(fields)
    with transaction.atomic():
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    project=project,
                    version=version,
                    created_by=by if isinstance(by, User) else None,
                    **fields,
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"version": f"{project.name} already has a release {version}."}
            ) from exc
        start_from_project(release)
        event = log_event(
            release,
            actor=by,
            verb="release_created",
            summary=f"Release {version} ({release.get_kind_display().lower()}) created",
            after=snapshot_fields(release, ["version", "kind", *fields]),
        )
        signals.release_created.send(sender=Release, release=release, actor=by, event=event)
    return release


def start_from_project(release: Release) -> None:
    """What a new release starts with: the project's members in their roles, the project's
    checklist for its kind, and an empty rollback plan."""
    project = release.project
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(release=release, user_id=user_id, role=role)
            for user_id, role in ProjectMembership.objects.filter(project=project).values_list(
                "user_id", "role"
            )
        ]
    )
    ChecklistItem.objects.bulk_create(
        [
            ChecklistItem(
                release=release,
                template=template,
                phase=template.phase,
                title=template.title,
                help_text=template.help_text,
                owner_role=template.owner_role,
                required=template.required,
                evidence_required=template.evidence_required,
                position=template.position,
            )
            for template in ChecklistTemplate.objects.filter(project=project)
            if template.applies_to(release.kind)
        ]
    )
    RollbackPlan.objects.create(release=release)


def _clean_sha(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError({"commit_sha": COMMIT_SHA_MESSAGE})
    try:
        return clean_commit_sha(value)
    except ValidationError as exc:
        raise ValidationError({"commit_sha": exc.messages}) from exc


def update_release(release: Release, *, by: Actor, **changes: Any) -> Release:
    """Change the plan of a release. A commit set for the first time, or changed, makes every
    sign-off given before it stale (they approved something else) and withdraws a Go."""
    reject_unknown_fields(changes, RELEASE_EDITABLE_FIELDS, "release")
    if "commit_sha" in changes:
        changes["commit_sha"] = _clean_sha(changes["commit_sha"])
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(f"Cannot edit the release: it is {release.get_status_display().lower()}.")
        if "kind" in changes and changes["kind"] != release.kind and release.scope_locked:
            raise Refused("Cannot change the kind of a release after its scope is locked.")
        _validate_plan({name: getattr(release, name) for name in RELEASE_EDITABLE_FIELDS} | changes)
        old_sha = release.commit_sha
        before, after, changed = apply_changes(release, changes)
        if not changed:
            return release
        release.save(update_fields=[*changed, "updated_at"])
        event = log_event(
            release,
            actor=by,
            verb="release_updated",
            summary="Changed " + ", ".join(name.replace("_", " ") for name in changed),
            before=before,
            after=after,
        )
        if "commit_sha" in changed:
            signals.commit_changed.send(
                sender=Release,
                release=release,
                old_sha=old_sha,
                new_sha=release.commit_sha,
                actor=by,
                event=event,
            )
            if old_sha and release.commit_sha:
                reason = f"the commit changed from {old_sha[:10]} to {release.commit_sha[:10]}"
            elif release.commit_sha:
                reason = f"the commit was set to {release.commit_sha[:10]}"
            else:
                reason = f"the commit {old_sha[:10]} was removed"
            content_changed(release, reason=reason, event=event, by=by)
    return release
