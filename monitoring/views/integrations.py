"""Pages of a project's integrations: the list, adding, editing, trying and deleting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lib.errors import Refused
from lib.htmx import HtmxRequest, SignedInRequest
from monitoring import forms
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import WEBHOOK_KINDS, Integration, IntegrationKind, WebhookDelivery
from monitoring.services.integrations import (
    ConnectionTest,
    delete_integration,
    save_integration,
    test_connection,
)
from monitoring.views.lookup import get_integration, get_project_for_settings, require_configure
from releases.models import Project

RECENT_DELIVERIES = 20


@login_required
def integration_list(request: SignedInRequest, slug: str) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
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
    request: HtmxRequest,
    project: Project,
    form: forms.IntegrationForm,
    integration: Integration | None,
    status: int = 200,
    test: ConnectionTest | None = None,
) -> HttpResponse:
    context = {
        "project": project,
        "form": form,
        "integration": integration,
        "kinds": IntegrationKind.choices,
        "kind": form.integration_kind,
        "adapter": ADAPTERS.get(form.integration_kind),
        "webhook_urls": _webhook_urls(request, integration) if integration else {},
        "test": test,
    }
    if request.htmx and request.GET.get("partial") == "form":
        return render(request, "monitoring/integration_form.html#form", context, status=status)
    return render(request, "monitoring/integration_form.html", context, status=status)


@login_required
def integration_create(request: SignedInRequest, slug: str) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    kind = _kind_choice(request.POST.get("kind") or request.GET.get("kind"))
    if request.method != "POST":
        form = forms.IntegrationForm(kind=kind)
        return _integration_page(request, project, form, None)
    form = forms.IntegrationForm(request.POST, kind=kind)
    if form.is_valid():
        try:
            integration = save_integration(project, by=request.user, **form.service_arguments())
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        else:
            messages.success(request, f"Integration “{integration.name}” added.")
            return redirect("integration_edit", slug=project.slug, pk=integration.pk)
    return _integration_page(request, project, form, None, status=400)


@login_required
def integration_edit(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    integration = get_integration(project, pk)
    if request.method != "POST":
        form = forms.IntegrationForm(kind=integration.kind, integration=integration)
        return _integration_page(request, project, form, integration)
    form = forms.IntegrationForm(request.POST, kind=integration.kind, integration=integration)
    if form.is_valid():
        try:
            save_integration(
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
def integration_test(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    integration = get_integration(project, pk)
    result = test_connection(integration, by=request.user)
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
def integration_delete(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    integration = get_integration(project, pk)
    try:
        delete_integration(integration, by=request.user)
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect("integration_edit", slug=project.slug, pk=integration.pk)
    messages.success(request, f"Integration “{integration.name}” deleted.")
    return redirect("integration_list", slug=project.slug)
