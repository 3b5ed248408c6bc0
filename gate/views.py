"""The GitHub App's webhook, and the gate command served for CI pipelines to download."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gate import forms, tasks
from gate.models import WEBHOOK_SECRET, GateRequest, GitHubApp, GitLabApprovals
from gate.services import providers, requests
from lib.errors import NotAllowed
from monitoring.services.webhooks import github_signature_matches
from releases import access as rules
from releases.access import is_project_member
from releases.models import Project

logger = logging.getLogger(__name__)

CLIENT = Path(__file__).with_name("client.py")


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt
@require_POST
def github_app_webhook(request: HttpRequest, app_id: int) -> JsonResponse:
    app = get_object_or_404(GitHubApp.objects.select_related("project"), pk=app_id)
    # The raw bytes, before anything parses them: the signature is over exactly these.
    body = request.body
    secret = app.secret(WEBHOOK_SECRET)
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not secret:
        return _refuse(403, "This GitHub App has no webhook secret; set one first.")
    if not signature:
        return _refuse(401, "The X-Hub-Signature-256 header is missing.")
    if not github_signature_matches(secret, body, signature):
        logger.warning("GitHub App webhook %s: signature mismatch", app.pk)
        return _refuse(403, "The signature does not match.")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    if not delivery:
        return _refuse(400, "The X-GitHub-Delivery header is missing.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return _refuse(400, "The body is not a JSON object.")
    received = requests.receive_github_app(
        app,
        event=request.headers.get("X-GitHub-Event", ""),
        delivery_id=delivery,
        payload=payload,
    )
    if received.to_answer is not None:
        pk = received.to_answer
        transaction.on_commit(lambda: tasks.answer_gate_request.delay(pk))
    status = 409 if received.outcome == "duplicate" else 200
    return JsonResponse(received.as_dict(), status=status)


@require_GET
def gate_command(request: HttpRequest) -> HttpResponse:
    """The stdlib-only command that asks the gate, for any CI to download and run."""
    response = HttpResponse(CLIENT.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="greenlight-gate.py"'
    return response


@login_required
def gate_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's GitHub App and GitLab approvals, and the deploys that asked lately."""
    project = get_object_or_404(Project, slug=slug)
    if not is_project_member(request.user, project):
        raise Http404("No such project.")
    can_configure = rules.CONFIGURE_MONITORING.allows(request.user, project)
    app = GitHubApp.objects.filter(project=project).first()
    gitlab = GitLabApprovals.objects.filter(project=project).first()
    action = request.POST.get("action") if request.method == "POST" else None
    github_form = forms.GitHubAppForm(
        request.POST if action == "github" else None,
        initial={
            "app_id": app.app_id,
            "slug": app.slug,
            "repository": app.repository,
            "api_url": app.api_url,
        }
        if app
        else None,
    )
    gitlab_form = forms.GitLabApprovalsForm(
        request.POST if action == "gitlab" else None,
        project=project,
        initial={"integration": gitlab.integration_id if gitlab else None},
    )
    if action is not None:
        if not can_configure:
            raise PermissionDenied(rules.CONFIGURE_MONITORING.refusal)
        form = {"github": github_form, "gitlab": gitlab_form}.get(action)
        try:
            if action == "remove_github":
                providers.remove_github_app(project, by=request.user)
            elif action == "github" and github_form.is_valid():
                providers.save_github_app(project, by=request.user, **github_form.cleaned_data)
            elif action == "gitlab" and gitlab_form.is_valid():
                providers.set_gitlab_approvals(
                    project, by=request.user, integration=gitlab_form.cleaned_data["integration"]
                )
            if form is None or form.is_valid():
                return redirect("gate_settings", slug=project.slug)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
    context = {
        "project": project,
        "can_configure": can_configure,
        "app": app,
        "webhook_url": settings.SITE_URL.rstrip("/") + reverse("gate_github_webhook", args=[app.pk])
        if app
        else "",
        "stored": sorted(app.stored_secret_names()) if app else [],
        "github_form": github_form,
        "gitlab_form": gitlab_form,
        "gitlab": gitlab,
        "requests": GateRequest.objects.filter(project=project).select_related("release")[:20],
    }
    return render(request, "gate/settings.html", context)
