"""The outgoing webhooks on the project's settings page: add, edit, pause, resume, delete,
replace the secret, and send a delivery again. Each view finds the project (404 for outsiders),
calls one service and redirects to the section or renders the page the answer needs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from releases.access import get_project_for
from releases.models import Project
from subscriptions import access, services
from subscriptions.forms import SubscriptionForm
from subscriptions.models import Delivery, Subscription

LOG_ROWS = 50


def _project(user: Any, slug: str, *, rule: Any = access.MANAGE_WEBHOOKS) -> Project:
    project = get_project_for(user, slug)
    if not rule.allows(user, project):
        # The site's 403 page shows the rule's sentence.
        raise PermissionDenied(rule.refusal)
    return project


def _subscription(project: Project, pk: int) -> Subscription:
    return get_object_or_404(Subscription, project=project, pk=pk)


def _section(project: Project) -> str:
    return reverse("project_settings", args=[project.slug]) + "#webhooks"


def _form_page(
    request: HttpRequest,
    project: Project,
    form: SubscriptionForm,
    subscription: Subscription | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    context = {"project": project, "form": form, "subscription": subscription}
    return render(request, "subscriptions/form.html", context, status=status)


def _secret_page(
    request: HttpRequest, project: Project, subscription: Subscription, secret: str, *, new: bool
) -> HttpResponse:
    context = {"project": project, "subscription": subscription, "secret": secret, "new": new}
    response = render(request, "subscriptions/secret.html", context)
    # Shown once: kept out of caches and the browser's history.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def subscription_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project(request.user, slug)
    if request.method != "POST":
        return _form_page(request, project, SubscriptionForm())
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        try:
            subscription, secret = services.create_subscription(
                project, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.attach(exc)
        else:
            return _secret_page(request, project, subscription, secret, new=True)
    return _form_page(request, project, form, status=400)


@login_required
def subscription_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = _project(request.user, slug)
    subscription = _subscription(project, pk)
    if request.method != "POST":
        return _form_page(
            request, project, SubscriptionForm(subscription=subscription), subscription
        )
    form = SubscriptionForm(request.POST, subscription=subscription)
    if form.is_valid():
        try:
            services.update_subscription(subscription, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.attach(exc)
        else:
            messages.success(request, f"Webhook “{form.cleaned_data['name']}” saved.")
            return redirect(_section(project))
    return _form_page(request, project, form, subscription, status=400)


@login_required
@require_POST
def subscription_action(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Pause, resume, delete, or replace the secret: one button each."""
    project = _project(request.user, slug)
    subscription = _subscription(project, pk)
    action = request.POST.get("action")
    try:
        if action == "pause":
            services.pause_subscription(subscription, by=request.user)
            messages.success(request, f"Webhook “{subscription}” paused: nothing is sent.")
        elif action == "resume":
            services.resume_subscription(subscription, by=request.user)
            messages.success(request, f"Webhook “{subscription}” sends events again.")
        elif action == "delete":
            services.delete_subscription(subscription, by=request.user)
            messages.success(request, f"Webhook “{subscription}” deleted.")
        elif action == "rotate":
            secret = services.rotate_secret(subscription, by=request.user)
            return _secret_page(request, project, subscription, secret, new=False)
        else:
            messages.error(request, "Choose pause, resume, delete or a new secret.")
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    return redirect(_section(project))


@login_required
def subscription_log(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = _project(request.user, slug, rule=access.SEE_WEBHOOKS)
    subscription = _subscription(project, pk)
    deliveries = subscription.deliveries.log()[:LOG_ROWS]
    context = {
        "project": project,
        "subscription": subscription,
        "deliveries": deliveries,
        "can_manage": access.MANAGE_WEBHOOKS.allows(request.user, project),
    }
    return render(request, "subscriptions/log.html", context)


@login_required
@require_POST
def delivery_redeliver(request: HttpRequest, slug: str, pk: int, delivery_pk: int) -> HttpResponse:
    project = _project(request.user, slug)
    subscription = _subscription(project, pk)
    delivery = get_object_or_404(Delivery, subscription=subscription, pk=delivery_pk)
    try:
        services.redeliver(delivery, by=request.user)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery {delivery.guid} is being sent again.")
    if request.POST.get("next") == "log":
        return redirect("webhook_log", slug=project.slug, pk=subscription.pk)
    return redirect(_section(project))
