"""Projects: creating them, their details, members and deploy environments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from releases import signals
from releases.events import log_project_change, log_project_event, snapshot
from releases.models import (
    Project,
    ProjectEventKind,
    ProjectMembership,
    Role,
)
from releases.services.common import apply_changes, reject_unknown_fields


def create_project(*, name: str, slug: str, by: Any, description: str = "") -> Project:
    with transaction.atomic():
        try:
            with transaction.atomic():
                project = Project.objects.create(name=name, slug=slug, description=description)
        except IntegrityError as exc:
            raise ValidationError({"slug": "A project with this short name exists."}) from exc
        if by is not None and getattr(by, "is_authenticated", False):
            ProjectMembership.objects.create(project=project, user=by, role="release_manager")
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.PROJECT,
            action="added",
            summary=f"Project “{project}” created",
            after=snapshot(project),
        )
        signals.project_created.send(sender=Project, project=project)
    return project


def set_project_roles(project: Project, user: Any, roles: Iterable[str], *, by: Any) -> None:
    """Make ``roles`` exactly the user's roles on the project (empty: remove the member)."""
    roles = set(roles)
    with transaction.atomic():
        current = set(
            ProjectMembership.objects.filter(project=project, user=user).values_list(
                "role", flat=True
            )
        )
        ProjectMembership.objects.filter(
            project=project, user=user, role__in=current - roles
        ).delete()
        ProjectMembership.objects.bulk_create(
            [ProjectMembership(project=project, user=user, role=r) for r in roles - current],
            ignore_conflicts=True,
        )
        if roles != current:
            _log_roles(project, user, sorted(current), sorted(roles), by=by)


def add_members(project: Project, roles_by_user: Mapping[Any, Iterable[str]], *, by: Any) -> None:
    """Make people who are not members yet members with these roles: a team joining at once.

    One insert for all of them and the event ``set_project_roles`` logs for each; someone who is
    already a member is refused whole (the roles of a member are changed one by one).
    """
    wanted = {user: sorted(set(roles)) for user, roles in roles_by_user.items()}
    members = ProjectMembership.objects.filter(project=project, user__in=list(wanted))
    if members.exists():
        raise ValidationError("Some of these people are members already.")
    try:
        with transaction.atomic():
            ProjectMembership.objects.bulk_create(
                ProjectMembership(project=project, user=user, role=role)
                for user, roles in wanted.items()
                for role in roles
            )
            for user, roles in wanted.items():
                _log_roles(project, user, [], roles, by=by)
    except IntegrityError as exc:
        raise ValidationError("Some of these people are members already.") from exc


def _log_roles(
    project: Project, user: Any, before: list[str], after: list[str], *, by: Any
) -> None:
    action = "added" if not before else "removed" if not after else "changed"
    labels = dict(Role.choices)
    names = ", ".join(str(labels.get(role, role)) for role in after) or "no role"
    log_project_event(
        project,
        actor=by,
        kind=ProjectEventKind.MEMBERSHIP,
        action=action,
        summary=(
            f"{user} removed from the project"
            if action == "removed"
            else f"{user} {'added as' if action == 'added' else 'now'}: {names}"
        ),
        before={"roles": before} if before else None,
        after={"roles": after} if after else None,
        data={"user": user.pk, "username": user.get_username()},
    )


PROJECT_FIELDS = (
    "name",
    "time_zone",
    "description",
    "repository_url",
    "monitoring_minutes_standard",
    "monitoring_minutes_hotfix",
    "monitoring_minutes_major",
    "slack_webhook_url",
)


def update_project(project: Project, *, by: Any, **changes: Any) -> Project:
    reject_unknown_fields(changes, PROJECT_FIELDS, "project")
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        _before, _after, changed = apply_changes(project, changes)
        if changed:
            project.full_clean(exclude=["slug"])
            log_project_change(project, actor=by, kind=ProjectEventKind.PROJECT, row=project)
            project.save(update_fields=changed)
    return project


ENVIRONMENT_NAME_LENGTH = 60


def set_deploy_environments(project: Project, *, by: Any, mapping: dict[str, str]) -> Project:
    """Replace the project's mapping of CI environment names to release environments.

    ``mapping`` is {CI name: release environment}; an empty environment means deploys there
    are never a release's. Names are matched without regard to case.
    """
    cleaned: dict[str, str] = {}
    problems: list[str] = []
    for raw_name, raw_target in mapping.items():
        name, target = str(raw_name).strip().lower(), str(raw_target or "").strip().lower()
        if not name:
            problems.append("Every line needs CI's environment name before “=”.")
        elif len(name) > ENVIRONMENT_NAME_LENGTH or len(target) > ENVIRONMENT_NAME_LENGTH:
            problems.append(f"“{name[:20]}…”: use at most {ENVIRONMENT_NAME_LENGTH} characters.")
        elif name in cleaned:
            problems.append(f"“{name}” is listed twice.")
        else:
            cleaned[name] = target
    if problems:
        raise ValidationError({"deploy_environments": problems})
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.deploy_environments != cleaned:
            project.deploy_environments = dict(sorted(cleaned.items()))
            log_project_change(project, actor=by, kind=ProjectEventKind.PROJECT, row=project)
            project.save(update_fields=["deploy_environments"])
    return project
