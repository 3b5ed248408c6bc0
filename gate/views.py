"""The GitHub App's webhook, and the gate command served for CI pipelines to download."""

from __future__ import annotations

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
from gate.models import GateRequest, GitHubApp, GitLabApprovals
from gate.services import providers, requests
from lib.errors import NotAllowed
from monitoring.services.webhooks import DeliveryRefused
from monitoring.views.webhooks import github_delivery, refusal_response
from releases import access as rules
from releases.access import is_project_member
from releases.models import Project

logger = logging.getLogger(__name__)

CLIENT = Path(__file__).with_name("client.py")


@csrf_exempt
@require_POST
def github_app_webhook(request: HttpRequest, app_id: int) -> JsonResponse:
    app = get_object_or_404(GitHubApp.objects.select_related("project"), pk=app_id)
    try:
        received = requests.receive_github_app_delivery(app, **github_delivery(request))
    except DeliveryRefused as refused:
        return refusal_response(refused)
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


# What the settings form shows of a saved GitHub App.
GITHUB_APP_FIELDS = ("app_id", "slug", "repository", "api_url")


@login_required
def gate_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's GitHub App and GitLab approvals, and the deploys that asked lately."""
    project = get_object_or_404(Project, slug=slug)
    if not is_project_member(request.user, project):
        raise Http404("No such project.")
    app = GitHubApp.objects.filter(project=project).first()
    gitlab = GitLabApprovals.objects.filter(project=project).first()
    action = request.POST.get("action") if request.method == "POST" else None
    github_form = forms.GitHubAppForm(
        request.POST if action == "github" else None,
        initial={name: getattr(app, name) for name in GITHUB_APP_FIELDS} if app else None,
    )
    gitlab_form = forms.GitLabApprovalsForm(
        request.POST if action == "gitlab" else None,
        project=project,
        initial={"integration": gitlab.integration_id if gitlab else None},
    )
    if action is not None and _saved(request, project, action, github_form, gitlab_form):
        return redirect("gate_settings", slug=project.slug)
    context = {
        "project": project,
        "can_configure": rules.CONFIGURE_MONITORING.allows(request.user, project),
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


def _saved(
    request: HttpRequest,
    project: Project,
    action: str,
    github_form: forms.GitHubAppForm,
    gitlab_form: forms.GitLabApprovalsForm,
) -> bool:
    """Run the pressed button's service; ``False`` leaves its form's errors to show."""
    if not rules.CONFIGURE_MONITORING.allows(request.user, project):
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
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        assert form is not None  # only the GitHub App and GitLab settings are validated
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return False
    return form is None or form.is_valid()
