"""The approval policy of a project: which roles sign off, how many of each, who decides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.models import DEFAULT_REQUIRED_ROLES, ApprovalPolicy, RoleRequirement
from releases.events import log_project_change, log_project_event
from releases.models import Project, ProjectEventKind, Release, ReleaseKind, Role
from releases.services.common import reject_unknown_fields


def ensure_policy(project: Project) -> ApprovalPolicy:
    """The project's policy, created with the defaults the first time it is needed."""
    policy, created = ApprovalPolicy.objects.get_or_create(project=project)
    if created:
        RoleRequirement.objects.bulk_create(
            [
                RoleRequirement(policy=policy, release_kind=kind, role=role, quorum=quorum)
                for kind, roles in DEFAULT_REQUIRED_ROLES.items()
                for role, quorum in roles.items()
            ]
        )
    return policy


POLICY_FIELDS = (
    "separation_of_duties",
    "creator_cannot_sign_off",
    "signer_cannot_decide",
    "no_self_assignment",
    "require_commit_before_poll",
    "sign_off_expiry_days",
    "decider_role",
    "reminder_hours_before",
    "override_no_go",
    "override_sign_offs",
    "override_checks",
    "override_freeze",
    "override_deploy_window",
)


def update_policy(
    project: Project,
    *,
    by: Any,
    requirements: Iterable[dict[str, Any]] = (),
    **changes: Any,
) -> ApprovalPolicy:
    """Change the project's approval policy (fields in ``POLICY_FIELDS``) and, in the same
    transaction, its required roles (``requirements``: release_kind, role, quorum each). The one
    way the policy changes, from the page and the API alike; field errors raise
    ``ValidationError`` and change nothing."""
    reject_unknown_fields(changes, POLICY_FIELDS, "policy")
    if changes.get("decider_role") == Role.VIEWER:
        raise ValidationError({"decider_role": "A viewer cannot record the go/no-go."})
    with transaction.atomic():
        policy = ensure_policy(project)
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.full_clean(exclude=["project"])
        log_project_change(project, actor=by, kind=ProjectEventKind.APPROVAL_POLICY, row=policy)
        policy.save()
        for requirement in requirements:
            set_role_requirement(project, by=by, **requirement)
    return policy


MAX_QUORUM = 20


def set_role_requirement(
    project: Project, *, by: Any, release_kind: str, role: str, quorum: int
) -> None:
    """Require ``quorum`` Go sign-offs from ``role`` on ``release_kind`` releases; 0 removes it."""
    if release_kind not in ReleaseKind.values:
        raise ValidationError({"release_kind": "Unknown release kind."})
    if role not in Role.values or role == Role.VIEWER:
        raise ValidationError({"role": "Viewers do not sign off."})
    try:
        quorum = int(quorum)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"quorum": "Give a whole number."}) from exc
    if quorum < 0:
        raise ValidationError({"quorum": "The quorum cannot be negative."})
    if quorum > MAX_QUORUM:
        raise ValidationError({"quorum": f"At most {MAX_QUORUM} sign-offs per role."})
    with transaction.atomic():
        policy = ensure_policy(project)
        requirements = policy.requirements.select_for_update().filter(
            release_kind=release_kind, role=role
        )
        was = requirements.values_list("quorum", flat=True).first() or 0
        if quorum == 0:
            requirements.delete()
        else:
            RoleRequirement.objects.update_or_create(
                policy=policy, release_kind=release_kind, role=role, defaults={"quorum": quorum}
            )
        if quorum != was:
            _log_quorum(project, by=by, release_kind=release_kind, role=role, was=was, now=quorum)


def _log_quorum(
    project: Project, *, by: Any, release_kind: str, role: str, was: int, now: int
) -> None:
    kind_label = ReleaseKind(release_kind).label.lower()
    field = f"quorum.{release_kind}.{role}"
    log_project_event(
        project,
        actor=by,
        kind=ProjectEventKind.APPROVAL_POLICY,
        action="changed",
        summary=f"{Role(role).label} sign-offs required on {kind_label} releases: {was} → {now}",
        before={field: was},
        after={field: now},
        data={"release_kind": release_kind, "role": role},
    )


def ensure_release_policy(release: Release) -> ApprovalPolicy:
    return ensure_policy(release.project)
