"""Pages of checks: a project's check templates and a release's own checks."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from lib.htmx import HtmxRequest, SignedInRequest
from lib.links import absolute
from monitoring import forms
from monitoring.models import Check, CheckResult
from monitoring.selectors import with_history
from monitoring.services.checks import (
    POLLED_STATUSES,
    delete_check_template,
    delete_release_check,
    save_check_template,
    save_release_check,
)
from monitoring.views.lookup import get_project_for_settings, require_configure
from releases import access as rules
from releases.access import get_release_for
from releases.models import Project, Release

HISTORY_ROWS = 200


# --- checks: the editor on a project (templates) and on a release ------------------------------


def _check_form(request: HttpRequest, project: Project, check: Check | None) -> forms.CheckForm:
    source = request.POST if request.method == "POST" else request.GET
    integration = forms.chosen_integration(project, source, check.integration if check else None)
    if request.method == "POST":
        return forms.CheckForm(request.POST, project=project, check=check, integration=integration)
    initial = {"integration": integration} if integration else {}
    return forms.CheckForm(project=project, check=check, integration=integration, initial=initial)


def _check_form_page(
    request: HtmxRequest, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    if request.htmx and request.GET.get("partial") == "form":
        return render(request, "monitoring/check_form.html#form", context, status=status)
    return render(request, "monitoring/check_form.html", context, status=status)


@login_required
def check_templates(request: SignedInRequest, slug: str) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    checks = with_history(
        Check.objects.filter(project=project, release__isnull=True).select_related("integration")
    )
    return render(
        request,
        "monitoring/check_list.html",
        {"project": project, "checks": checks, "can_edit": can_manage, "release": None},
    )


@login_required
def check_template_edit(request: SignedInRequest, slug: str, pk: int | None = None) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    check = None
    if pk is not None:
        check = get_object_or_404(Check, project=project, release__isnull=True, pk=pk)
    form = _check_form(request, project, check)
    context = {"project": project, "release": None, "check": check, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            check = save_check_template(
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
def check_template_delete(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    project, can_manage = get_project_for_settings(request.user, slug)
    require_configure(can_manage)
    check = get_object_or_404(Check, project=project, release__isnull=True, pk=pk)
    delete_check_template(check, by=request.user)
    messages.success(request, f"Check “{check.name}” removed; existing releases keep theirs.")
    return redirect("check_templates", slug=project.slug)


@login_required
def release_checks(request: SignedInRequest, pk: int) -> HttpResponse:
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
def release_check_edit(
    request: SignedInRequest, pk: int, check_pk: int | None = None
) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    if not access.can_edit_checks:
        raise PermissionDenied(rules.EDIT_CHECKS.refusal)
    check = get_object_or_404(Check, release=release, pk=check_pk) if check_pk else None
    form = _check_form(request, release.project, check)
    context = {"project": release.project, "release": release, "check": check, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            check = save_release_check(
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
def release_check_delete(request: SignedInRequest, pk: int, check_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    try:
        delete_release_check(check, by=request.user)
    except (Refused, NotAllowed) as exc:
        messages.error(request, str(exc))
        return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
    messages.success(request, f"Check “{check.name}” removed.")
    return redirect("release_checks", pk=release.pk)


# --- one check: its history ---------------------------------------------------------------------


@dataclass(frozen=True)
class PushInstructions:
    """How CI reports a result to a check whose results are pushed, with this check's values."""

    endpoint: str
    check_id: int
    curl: str


def push_instructions(release: Release, check: Check) -> PushInstructions | None:
    if check.integration.is_polled:
        return None
    endpoint = absolute(reverse("api-check-results", args=[release.pk, check.pk]))
    body: dict[str, str] = {"status": "passing", "value": "success"}
    if release.commit_sha:
        body["sha"] = release.commit_sha
    body["url"] = "https://ci.example.com/runs/1"
    curl = " \\\n  ".join(
        [
            f"curl -X POST {shlex.quote(endpoint)}",
            '-H "Authorization: Bearer $GREENLIGHT_TOKEN"',
            '-H "Content-Type: application/json"',
            f"-d {shlex.quote(json.dumps(body))}",
        ]
    )
    return PushInstructions(endpoint=endpoint, check_id=check.pk, curl=curl)


def render_check_detail(
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
            "pollable": release.status in POLLED_STATUSES[check.phase]
            and check.integration.is_polled,
            "push": push_instructions(release, check),
        },
        status=status,
    )


@login_required
def release_check_detail(request: SignedInRequest, pk: int, check_pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    return render_check_detail(request, release, access, check)
