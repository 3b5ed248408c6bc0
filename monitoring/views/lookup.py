"""What the project settings pages of monitoring fetch first: the project the user belongs to
(404 otherwise) and whether they may configure its integrations and checks.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from monitoring.models import Integration
from releases import access as rules
from releases.access import is_project_member
from releases.models import Project


def get_project_for_settings(user: Any, slug: str) -> tuple[Project, bool]:
    """The project if the user belongs to it (404 otherwise), and whether they may configure
    its integrations and checks."""
    project = get_object_or_404(Project, slug=slug)
    if not is_project_member(user, project):
        raise Http404("No such project.")
    return project, rules.CONFIGURE_MONITORING.allows(user, project)


def require_configure(allowed: bool) -> None:
    # The site's 403 page shows the rule's sentence.
    if not allowed:
        raise PermissionDenied(rules.CONFIGURE_MONITORING.refusal)


def get_integration(project: Project, pk: int) -> Integration:
    return get_object_or_404(Integration, project=project, pk=pk)
