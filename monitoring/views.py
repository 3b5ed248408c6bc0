"""HTML views for integrations and checks, and the inbound webhook endpoints.

Thin function views: find the object the user may see (404 otherwise), check the right to
change it, call one service, render or redirect.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from monitoring import forms, rollback_webhook, services, webhooks
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import (
    WEBHOOK_KINDS,
    Check,
    CheckResult,
    Integration,
    IntegrationKind,
    WebhookDelivery,
)
from monitoring.selectors import with_history
from releases import access as rules
from releases.access import get_release_for, is_project_member
from releases.models import Project, Release

logger = logging.getLogger(__name__)

HISTORY_ROWS = 200


# --- access helpers -----------------------------------------------------------------------------


def _get_project_for(user: Any, slug: str) -> tuple[Project, bool]:
    """The project if the user belongs to it (404 otherwise), and whether they may configure
    its integrations and checks."""
    project = get_object_or_404(Project, slug=slug)
    if not is_project_member(user, project):
        raise Http404("No such project.")
    return project, rules.CONFIGURE_MONITORING.allows(user, project)


def _require(allowed: bool) -> None:
    # The site's 403 page shows the rule's sentence.
    if not allowed:
        raise PermissionDenied(rules.CONFIGURE_MONITORING.refusal)


def _get_integration(project: Project, pk: int) -> Integration:
    return get_object_or_404(Integration, project=project, pk=pk)


# --- the rollback webhook secret ----------------------------------------------------------------


@login_required
def rollback_secret(request: HttpRequest, slug: str) -> HttpResponse:
    """Who saw or changed the secret; POST ``reveal`` shows it, POST ``rotate`` replaces it.

    Showing it is a POST because it is recorded; the page answers with ``no-store`` so the
    secret stays out of caches and the browser's history.
    """
    project, _can_manage = _get_project_for(request.user, slug)
    secret = ""
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "reveal":
            secret = rollback_webhook.reveal_rollback_webhook_secret(project, by=request.user)
        elif action == "rotate":
            secret = rollback_webhook.rotate_rollback_webhook_secret(project, by=request.user)
        else:
            rules.SEE_ROLLBACK_SECRET.check(request.user, project)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    context = {
        "project": project,
        "secret": secret,
        "rotated": action == "rotate",
        "history": rollback_webhook.rollback_secret_history(project),
    }
    response = render(request, "monitoring/rollback_secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


# --- integrations -------------------------------------------------------------------------------


RECENT_DELIVERIES = 20


@login_required
def integration_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    integrations = project.integrations.order_by("name")
    # The integrations' activity: what the latest webhook deliveries did, ignored ones included.
    deliveries = (
        WebhookDelivery.objects.filter(integration__project=project)
        .select_related("integration")
        .order_by("-received_at", "-pk")[:RECENT_DELIVERIES]
    )
    return render(
        request,
        "monitoring/integration_list.html",
        {
            "project": project,
            "integrations": integrations,
            "deliveries": deliveries,
            "can_manage": can_manage,
        },
    )


def _kind_choice(raw: str | None) -> str:
    return raw if raw in IntegrationKind.values else IntegrationKind.GITHUB


def _webhook_urls(request: HttpRequest, integration: Integration) -> dict[str, str]:
    if integration.pk is None or integration.kind not in WEBHOOK_KINDS:
        return {}
    name = f"webhook_{integration.kind}"
    return {integration.kind: request.build_absolute_uri(reverse(name, args=[integration.pk]))}


def _integration_page(
    request: HttpRequest,
    project: Project,
    form: forms.IntegrationForm,
    integration: Integration | None,
    status: int = 200,
    test: services.ConnectionTest | None = None,
) -> HttpResponse:
    context = {
        "project": project,
        "form": form,
        "integration": integration,
        "kinds": IntegrationKind.choices,
        "kind": form.kind,
        "adapter": ADAPTERS.get(form.kind),
        "webhook_urls": _webhook_urls(request, integration) if integration else {},
        "test": test,
    }
    if request.htmx and request.GET.get("partial") == "form":
        return render(request, "monitoring/integration_form.html#form", context, status=status)
    return render(request, "monitoring/integration_form.html", context, status=status)


@login_required
def integration_create(request: HttpRequest, slug: str) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    kind = _kind_choice(request.POST.get("kind") or request.GET.get("kind"))
    if request.method != "POST":
        form = forms.IntegrationForm(kind=kind)
        return _integration_page(request, project, form, None)
    form = forms.IntegrationForm(request.POST, kind=kind)
    if form.is_valid():
        try:
            integration = services.save_integration(
                project, by=request.user, **form.service_arguments()
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        else:
            messages.success(request, f"Integration “{integration.name}” added.")
            return redirect("integration_edit", slug=project.slug, pk=integration.pk)
    return _integration_page(request, project, form, None, status=400)


@login_required
def integration_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    integration = _get_integration(project, pk)
    if request.method != "POST":
        form = forms.IntegrationForm(kind=integration.kind, integration=integration)
        return _integration_page(request, project, form, integration)
    form = forms.IntegrationForm(request.POST, kind=integration.kind, integration=integration)
    if form.is_valid():
        try:
            services.save_integration(
                project, by=request.user, integration=integration, **form.service_arguments()
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        else:
            messages.success(request, f"Integration “{form.cleaned_data['name']}” saved.")
            return redirect("integration_edit", slug=project.slug, pk=integration.pk)
    return _integration_page(request, project, form, integration, status=400)


@login_required
@require_POST
def integration_test(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    integration = _get_integration(project, pk)
    result = services.test_connection(integration, by=request.user)
    integration.refresh_from_db()
    context = {"project": project, "integration": integration, "test": result}
    if request.htmx:
        return render(request, "monitoring/integration_form.html#health", context)
    (messages.success if result.ok else messages.error)(
        request, f"Test: {result.summary}. {result.detail}".strip()
    )
    return redirect("integration_edit", slug=project.slug, pk=integration.pk)


@login_required
@require_POST
def integration_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    integration = _get_integration(project, pk)
    try:
        services.delete_integration(integration, by=request.user)
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect("integration_edit", slug=project.slug, pk=integration.pk)
    messages.success(request, f"Integration “{integration.name}” deleted.")
    return redirect("integration_list", slug=project.slug)


# --- checks: the editor on a project (templates) and on a release ------------------------------


def _check_form(request: HttpRequest, project: Project, check: Check | None) -> forms.CheckForm:
    source = request.POST if request.method == "POST" else request.GET
    integration = forms.chosen_integration(project, source, check.integration if check else None)
    if request.method == "POST":
        return forms.CheckForm(request.POST, project=project, check=check, integration=integration)
    initial = {"integration": integration} if integration else {}
    return forms.CheckForm(project=project, check=check, integration=integration, initial=initial)


def _check_form_page(
    request: HttpRequest, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    if request.htmx and request.GET.get("partial") == "form":
        return render(request, "monitoring/check_form.html#form", context, status=status)
    return render(request, "monitoring/check_form.html", context, status=status)


@login_required
def check_templates(request: HttpRequest, slug: str) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    checks = with_history(
        Check.objects.filter(project=project, release__isnull=True).select_related("integration")
    )
    return render(
        request,
        "monitoring/check_list.html",
        {"project": project, "checks": checks, "can_edit": can_manage, "release": None},
    )


@login_required
def check_template_edit(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    check = None
    if pk is not None:
        check = get_object_or_404(Check, project=project, release__isnull=True, pk=pk)
    form = _check_form(request, project, check)
    context = {"project": project, "release": None, "check": check, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            check = services.save_check_template(
                project, by=request.user, check=check, **form.service_arguments()
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        else:
            messages.success(request, f"Check “{check.name}” saved; new releases get it.")
            return redirect("check_templates", slug=project.slug)
    return _check_form_page(request, context, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def check_template_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = _get_project_for(request.user, slug)
    _require(can_manage)
    check = get_object_or_404(Check, project=project, release__isnull=True, pk=pk)
    services.delete_check_template(check, by=request.user)
    messages.success(request, f"Check “{check.name}” removed; existing releases keep theirs.")
    return redirect("check_templates", slug=project.slug)


@login_required
def release_checks(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    checks = with_history(release.checks.select_related("integration"))
    return render(
        request,
        "monitoring/check_list.html",
        {
            "project": release.project,
            "release": release,
            "checks": checks,
            "can_edit": access.can_edit_checks,
        },
    )


@login_required
def release_check_edit(request: HttpRequest, pk: int, check_pk: int | None = None) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    if not access.can_edit_checks:
        raise PermissionDenied(rules.EDIT_CHECKS.refusal)
    check = get_object_or_404(Check, release=release, pk=check_pk) if check_pk else None
    form = _check_form(request, release.project, check)
    context = {"project": release.project, "release": release, "check": check, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            check = services.save_release_check(
                release, by=request.user, check=check, **form.service_arguments()
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        except (Refused, NotAllowed) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Check “{check.name}” saved.")
            return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
    return _check_form_page(request, context, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def release_check_delete(request: HttpRequest, pk: int, check_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    try:
        services.delete_release_check(check, by=request.user)
    except (Refused, NotAllowed) as exc:
        messages.error(request, str(exc))
        return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
    messages.success(request, f"Check “{check.name}” removed.")
    return redirect("release_checks", pk=release.pk)


# --- one check: its history ---------------------------------------------------------------------


def _check_detail(
    request: HttpRequest,
    release: Release,
    access: Any,
    check: Check,
    *,
    judgement: forms.JudgementForm | None = None,
    status: int = 200,
) -> HttpResponse:
    check = with_history(Check.objects.select_related("integration", "release")).get(pk=check.pk)
    results = CheckResult.objects.filter(check_ref=check).select_related("judged_by")[:HISTORY_ROWS]
    return render(
        request,
        "monitoring/check_detail.html",
        {
            "project": release.project,
            "release": release,
            "check": check,
            "results": results,
            "access": access,
            "counts": check.counts_as_passing(commit_sha=release.commit_sha),
            "stale": check.is_stale_for(release.commit_sha),
            "judgement": judgement or forms.JudgementForm(),
            "pollable": release.status in services.POLLED_STATUSES[check.phase]
            and check.integration.is_polled,
        },
        status=status,
    )


@login_required
def release_check_detail(request: HttpRequest, pk: int, check_pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    return _check_detail(request, release, access, check)


@login_required
@require_POST
def release_check_judgement(request: HttpRequest, pk: int, check_pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    form = forms.JudgementForm(request.POST)
    if form.is_valid():
        try:
            services.judge_check(
                check,
                by=request.user,
                passed=form.cleaned_data["passed"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except Refused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Judgement recorded for “{check.name}”.")
            return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
    return _check_detail(request, release, access, check, judgement=form, status=400)


@login_required
@require_POST
def release_check_poll(request: HttpRequest, pk: int, check_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    check = get_object_or_404(
        Check.objects.select_related("integration"), release=release, pk=check_pk
    )
    try:
        services.poll_check_now(check, by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The check will be read within a few seconds.")
    return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)


# --- inbound webhooks ---------------------------------------------------------------------------


def _webhook_secret(integration: Integration) -> str:
    try:
        return integration.secrets().get(services.WEBHOOK_SECRET, "")
    except SecretsUnreadable:
        return ""


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


# Providers' payloads nest about ten levels deep. A signed body nested far deeper is not one of
# theirs, and would exhaust the parser's (and later the database's) recursion.
MAX_PAYLOAD_DEPTH = 64


def _payload(body: bytes) -> dict[str, Any] | str:
    """The delivery's JSON object, or the sentence that refuses it."""
    try:
        payload = json.loads(body)
    except RecursionError:
        return "The body is nested too deeply."
    except (ValueError, UnicodeDecodeError):
        return "The body is not a JSON object."
    if not isinstance(payload, dict):
        return "The body is not a JSON object."
    if _depth(payload) > MAX_PAYLOAD_DEPTH:
        return "The body is nested too deeply."
    return payload


def _depth(value: Any) -> int:
    deepest, level = 0, [value]
    while level:
        deepest += 1
        if deepest > MAX_PAYLOAD_DEPTH:
            return deepest
        children: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                children.extend(node.values())
            elif isinstance(node, list):
                children.extend(node)
        level = [c for c in children if isinstance(c, dict | list)]
    return deepest


@csrf_exempt
@require_POST
def webhook_github(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.GITHUB, enabled=True
    )
    # The raw bytes, before anything parses them: the signature is over exactly these.
    body = request.body
    secret = _webhook_secret(integration)
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not secret:
        return _refuse(403, "This integration has no webhook secret; set one first.")
    if not signature:
        return _refuse(401, "The X-Hub-Signature-256 header is missing.")
    if not webhooks.github_signature_matches(secret, body, signature):
        logger.warning("GitHub webhook for integration %s: signature mismatch", integration.pk)
        return _refuse(403, "The signature does not match.")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    if not delivery:
        return _refuse(400, "The X-GitHub-Delivery header is missing.")
    payload = _payload(body)
    if isinstance(payload, str):
        return _refuse(400, payload)
    event = request.headers.get("X-GitHub-Event", "")
    received = webhooks.receive_github(
        integration, event=event, delivery_id=delivery, payload=payload
    )
    return JsonResponse(received.as_dict())


@csrf_exempt
@require_POST
def webhook_gitlab(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.GITLAB, enabled=True
    )
    body = request.body
    secret = _webhook_secret(integration)
    token = request.headers.get("X-Gitlab-Token", "")
    if not secret:
        return _refuse(403, "This integration has no webhook secret; set one first.")
    if not token:
        return _refuse(401, "The X-Gitlab-Token header is missing.")
    if not webhooks.gitlab_token_matches(secret, token):
        logger.warning("GitLab webhook for integration %s: token mismatch", integration.pk)
        return _refuse(403, "The token does not match.")
    payload = _payload(body)
    if isinstance(payload, str):
        return _refuse(400, payload)
    # Idempotency-Key stays the same across GitLab's retries; older versions only send the
    # event UUID.
    delivery = request.headers.get("Idempotency-Key") or request.headers.get(
        "X-Gitlab-Event-UUID", ""
    )
    received = webhooks.receive_gitlab(
        integration,
        event=request.headers.get("X-Gitlab-Event", ""),
        delivery_id=delivery,
        payload=payload,
    )
    return JsonResponse(received.as_dict())
