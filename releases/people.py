"""Who is signed in, as the page header shows them."""

from __future__ import annotations

from typing import Any

from releases.models import ProjectMembership, Role
from releases.notifications import unread_count


def person_summary(request: Any) -> dict[str, Any]:
    """Who is signed in: projects with their roles, whether they create releases, unread
    notifications. Two queries, once per request (the header and the page share it)."""
    cached = getattr(request, "_greenlight_person", None)
    if cached is not None:
        return cached
    user = request.user
    projects: dict[int, dict[str, Any]] = {}
    for membership in ProjectMembership.objects.filter(user=user).select_related("project"):
        entry = projects.setdefault(
            membership.project_id, {"project": membership.project, "roles": [], "manages": False}
        )
        entry["roles"].append(Role(membership.role).label)
        entry["manages"] |= membership.role == Role.RELEASE_MANAGER
    summary = {
        "name": user.get_full_name() or user.get_username(),
        "projects": list(projects.values()),
        "can_create": user.is_superuser or any(e["manages"] for e in projects.values()),
        "unread": unread_count(user),
    }
    request._greenlight_person = summary
    return summary
