"""The rollback webhook secret of a project: who saw or changed it, showing and rotating it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render

from lib.errors import NotAllowed
from lib.htmx import SignedInRequest
from monitoring.services.rollback import (
    reveal_rollback_webhook_secret,
    rollback_secret_history,
    rotate_rollback_webhook_secret,
)
from monitoring.views.lookup import get_project_for_settings
from releases import access as rules


@login_required
def rollback_secret(request: SignedInRequest, slug: str) -> HttpResponse:
    """Who saw or changed the secret; POST ``reveal`` shows it, POST ``rotate`` replaces it.

    Showing it is a POST because it is recorded; the page answers with ``no-store`` so the
    secret stays out of caches and the browser's history.
    """
    project, _can_manage = get_project_for_settings(request.user, slug)
    secret = ""
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "reveal":
            secret = reveal_rollback_webhook_secret(project, by=request.user)
        elif action == "rotate":
            secret = rotate_rollback_webhook_secret(project, by=request.user)
        else:
            rules.SEE_ROLLBACK_SECRET.check(request.user, project)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    context = {
        "project": project,
        "secret": secret,
        "rotated": action == "rotate",
        "history": rollback_secret_history(project),
    }
    response = render(request, "monitoring/rollback_secret.html", context)
    response["Cache-Control"] = "no-store"
    return response
