"""Who may do what: the one place the HTML views and the API ask.

Roles on a release come from its role assignments (which default from the project's members and
can be changed per release). A project's release managers manage all its releases. A superuser
may do everything. Anyone outside the project does not see the release at all (404, not 403).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import Http404

from releases.models import (
    ChecklistItem,
    Project,
    ProjectMembership,
    Release,
    Role,
    ScopeChangeRequest,
    Status,
)


def project_roles(user: Any, project: Project) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    return frozenset(
        ProjectMembership.objects.filter(project=project, user=user).values_list("role", flat=True)
    )


def is_project_member(user: Any, project: Project) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or project_roles(user, project)))


def can_manage_project(user: Any, project: Project) -> bool:
    """Release managers and administrators edit settings, members and integrations."""
    return bool(
        user.is_authenticated
        and (user.is_superuser or Role.RELEASE_MANAGER in project_roles(user, project))
    )


def can_create_release(user: Any, project: Project) -> bool:
    return can_manage_project(user, project)


@dataclass
class ReleaseAccess:
    """One user's rights on one release, computed from rows loaded once."""

    user: Any
    release: Release
    roles: frozenset[str] = field(default_factory=frozenset)
    project_roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_superuser(self) -> bool:
        return bool(self.user.is_superuser)

    @property
    def can_view(self) -> bool:
        return self.is_superuser or bool(self.project_roles or self.roles)

    @property
    def is_manager(self) -> bool:
        return (
            self.is_superuser
            or Role.RELEASE_MANAGER in self.roles
            or Role.RELEASE_MANAGER in self.project_roles
        )

    @property
    def acting_roles(self) -> frozenset[str]:
        """Roles that may change something (everything but viewer)."""
        return self.roles - {Role.VIEWER}

    @property
    def is_read_only(self) -> bool:
        return not (self.is_manager or self.acting_roles)

    @property
    def can_edit_release(self) -> bool:
        return self.is_manager and self.release.is_active

    @property
    def can_edit_scope(self) -> bool:
        """Direct scope edits while planning: release manager, product, developers."""
        return self.release.status == Status.PLANNING and (
            self.is_manager or bool(self.roles & {Role.PRODUCT, Role.DEV})
        )

    @property
    def can_request_scope_change(self) -> bool:
        return self.release.status in (Status.FROZEN, Status.APPROVED) and (
            self.is_manager or bool(self.acting_roles)
        )

    def can_decide_change_request(self, request: ScopeChangeRequest) -> bool:
        """Product and the release manager each accept; neither may accept their own request."""
        if request.state != ScopeChangeRequest.State.PENDING:
            return False
        if request.requested_by_id == self.user.pk:
            return False
        return self.is_manager or Role.PRODUCT in self.roles

    def can_tick(self, item: ChecklistItem) -> bool:
        return self.release.is_active and (self.is_manager or item.owner_role in self.roles)

    def can_sign_as(self, role: str) -> bool:
        return self.release.is_active and role in self.roles and role != Role.VIEWER

    @property
    def signing_roles(self) -> list[str]:
        return sorted(self.acting_roles)

    @property
    def can_edit_rollback_plan(self) -> bool:
        return self.release.is_active and (self.is_manager or Role.DEVOPS in self.roles)

    @property
    def can_deploy(self) -> bool:
        return self.is_manager or Role.DEVOPS in self.roles

    @property
    def can_roll_back(self) -> bool:
        decider = getattr(getattr(self.release, "rollback_plan", None), "decider_id", None)
        return (
            self.is_manager
            or Role.DEVOPS in self.roles
            or (decider is not None and decider == self.user.pk)
        )

    @property
    def can_write_review(self) -> bool:
        return self.release.status in (Status.RELEASED, Status.ROLLED_BACK) and (
            self.is_manager or bool(self.acting_roles)
        )

    @property
    def can_add_note(self) -> bool:
        return self.is_manager or bool(self.acting_roles)

    @property
    def can_edit_checks(self) -> bool:
        """Add, change or remove the release's checks: DevOps connects CI and monitoring."""
        return self.release.is_active and (self.is_manager or Role.DEVOPS in self.roles)

    @property
    def can_judge_checks(self) -> bool:
        """Resolve a check the machines could not decide, to pass or fail with a reason."""
        return self.release.is_active and (
            self.is_manager or bool(self.roles & {Role.DEVOPS, Role.QA})
        )


def access_for(user: Any, release: Release) -> ReleaseAccess:
    if not user.is_authenticated:
        return ReleaseAccess(user=user, release=release)
    roles = frozenset(
        release.assignments.filter(user=user).values_list("role", flat=True)
        if not hasattr(release, "_prefetched_objects_cache")
        or "assignments" not in release._prefetched_objects_cache
        else [a.role for a in release.assignments.all() if a.user_id == user.pk]
    )
    return ReleaseAccess(
        user=user,
        release=release,
        roles=roles,
        project_roles=project_roles(user, release.project),
    )


def get_release_for(user: Any, pk: int, queryset: Any = None) -> tuple[Release, ReleaseAccess]:
    """The release if the user may see it, else 404 (outsiders learn nothing, not even 403)."""
    queryset = queryset if queryset is not None else Release.objects.select_related("project")
    try:
        release = queryset.get(pk=pk)
    except (Release.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such release.") from exc
    access = access_for(user, release)
    if not access.can_view:
        raise Http404("No such release.")
    return release, access
