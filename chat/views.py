"""Slack's requests (interactivity and the slash command), the page where a person links their
Slack user, and the project-settings form of the Slack app."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import interactions, services
from chat.forms import SlackAppForm
from chat.models import SlackApp, SlackLink
from lib.errors import NotAllowed, Refused
from lib.htmx import signed_in
from releases import forms as release_forms
from releases.access import can_manage_project, get_project_for, visible_projects


def _app_for(slug: str) -> SlackApp:
    app = SlackApp.objects.select_related("project").filter(project__slug=slug).first()
    if app is None:
        raise Http404("No Slack app here.")
    return app


def _verified(request: HttpRequest, app: SlackApp) -> HttpResponse | None:
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        services.verify_request(app, request.body, headers)
    except services.NotSigned as exc:
        return HttpResponse(str(exc), status=401, content_type="text/plain")
    return None


@csrf_exempt
@require_POST
def interactivity(request: HttpRequest, slug: str) -> HttpResponse:
    """Slack's Interactivity Request URL: buttons pressed and modals submitted."""
    app = _app_for(slug)
    refused = _verified(request, app)
    if refused is not None:
        return refused
    try:
        payload = json.loads(request.POST.get("payload", ""))
    except ValueError:
        return HttpResponse("No payload.", status=400, content_type="text/plain")
    if not isinstance(payload, dict):
        return HttpResponse("No payload.", status=400, content_type="text/plain")
    kind = payload.get("type")
    if kind == "block_actions":
        interactions.block_actions(app, payload)
    elif kind == "view_submission":
        answer = interactions.view_submission(app, payload)
        if answer is not None:
            return JsonResponse(answer)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def command(request: HttpRequest, slug: str) -> HttpResponse:
    """Slack's slash-command Request URL for ``/greenlight``."""
    app = _app_for(slug)
    refused = _verified(request, app)
    if refused is not None:
        return refused
    return JsonResponse(interactions.slash_command(app, request.POST.dict()))


# --- linking a person's Slack user -------------------------------------------------------------


@signed_in
def links(request: HttpRequest) -> HttpResponse:
    """My Slack links, and the workspaces of my projects where I can link by email."""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "unlink":
                services.unlink(request.user, link_id=int(request.POST.get("link", 0)))
                messages.success(request, "Your Slack user is unlinked.")
            else:
                app = get_object_or_404(
                    SlackApp,
                    pk=int(request.POST.get("app", 0) or 0),
                    project__in=visible_projects(request.user),
                )
                link = services.link_by_email(request.user, app=app)
                messages.success(request, f"Linked to Slack user {link.slack_user_id}.")
        except (Refused, NotAllowed) as exc:
            messages.error(request, str(exc))
        except ValueError:
            raise Http404("No such link.") from None
        return redirect("slack_links")
    apps = (
        SlackApp.objects.filter(project__in=visible_projects(request.user))
        .select_related("project")
        .exclude(team_id="")
    )
    mine = list(SlackLink.objects.filter(user=request.user).order_by("team_id"))
    linked = {link.team_id for link in mine}
    return render(
        request,
        "chat/links.html",
        {"links": mine, "apps": [a for a in apps if a.team_id not in linked]},
    )


@signed_in
def link_code(request: HttpRequest, code: str) -> HttpResponse:
    """The one-time link from Slack: confirm, and the Slack user is linked to me."""
    if request.method == "POST":
        try:
            services.link_by_code(code, user=request.user)
        except Refused as exc:
            return render(request, "chat/link_code.html", {"problem": str(exc)}, status=409)
        messages.success(request, "Your Slack user is linked: the buttons in Slack act as you.")
        return redirect("slack_links")
    pending = services.pending_link(code)
    if pending is None:
        return render(
            request,
            "chat/link_code.html",
            {"problem": "This link has expired or was used already; ask /greenlight link again."},
            status=404,
        )
    return render(request, "chat/link_code.html", {"pending": pending})


# --- the project's Slack app (settings page) ---------------------------------------------------


@signed_in
@require_POST
def slack_app_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = SlackAppForm(request.POST, prefix="slack")
    problem = "Please correct the highlighted fields."
    status = 422
    if form.is_valid():
        try:
            if request.POST.get("action") == "remove":
                services.remove_slack_app(project, by=request.user)
                done = "The Slack app is removed."
            else:
                services.configure_slack_app(project, by=request.user, **form.cleaned_data)
                done = "Slack app saved."
        except ValidationError as exc:
            release_forms.apply_errors(form, exc)
        except NotAllowed as exc:
            problem, status = str(exc), 403
        except Refused as exc:
            problem, status = str(exc), 409
        else:
            messages.success(request, done)
            return redirect(reverse("project_settings", args=[project.slug]) + "#slack")
    context: dict[str, Any] = {
        "project": project,
        "can_manage": can_manage_project(request.user, project),
        "problem": problem,
        "slack_form": form,
    }
    return render(request, "chat/slack_app.html", context, status=status)
