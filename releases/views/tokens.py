"""Pages to manage API tokens: your personal tokens, and a project's tokens for its CI.

A new token's secret is rendered once, in the answer to the POST that made it, and never stored
or shown again. Personal tokens belong to their owner alone; project tokens are managed by the
project's release managers. Anyone outside the project gets 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest
from releases import access as rules
from releases.access import get_project_for
from releases.models import ApiToken, Project
from releases.services.tokens import create_api_token, revoke_api_token


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What will use it, e.g. “deploy-bot” or “my laptop”.",
    )


def _render(
    request: HttpRequest,
    *,
    tokens: Any,
    form: TokenForm,
    project: Project | None = None,
    new_secret: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "releases/tokens.html",
        {"tokens": tokens, "form": form, "project": project, "new_secret": new_secret},
        status=status,
    )


def _create(request: HttpRequest, tokens: Any, project: Project | None) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            _token, secret = create_api_token(
                by=request.user, name=form.cleaned_data["name"], project=project
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            # Rendered, not redirected: the secret lives only in this one answer.
            return _render(
                request, tokens=tokens, form=TokenForm(), project=project, new_secret=secret
            )
    return _render(request, tokens=tokens, form=form, project=project, status=400)


@never_cache
@login_required
def my_tokens(request: SignedInRequest) -> HttpResponse:
    tokens = ApiToken.objects.filter(kind=ApiToken.Kind.PERSONAL, user=request.user)
    if request.method == "POST":
        return _create(request, tokens, None)
    return _render(request, tokens=tokens, form=TokenForm())


@login_required
@require_POST
def revoke_my_token(request: SignedInRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, kind=ApiToken.Kind.PERSONAL, user=request.user)
    revoke_api_token(token, by=request.user)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("my_tokens")


def _managed_project(request: HttpRequest, slug: str) -> Project:
    project = get_project_for(request.user, slug)
    if not rules.MANAGE_PROJECT.allows(request.user, project):
        raise PermissionDenied(rules.MANAGE_PROJECT.refusal)
    return project


@never_cache
@login_required
def project_tokens(request: SignedInRequest, slug: str) -> HttpResponse:
    project = _managed_project(request, slug)
    tokens = ApiToken.objects.filter(kind=ApiToken.Kind.PROJECT, project=project).select_related(
        "created_by"
    )
    if request.method == "POST":
        return _create(request, tokens, project)
    return _render(request, tokens=tokens, form=TokenForm(), project=project)


@login_required
@require_POST
def revoke_project_token(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    project = _managed_project(request, slug)
    token = get_object_or_404(ApiToken, pk=pk, kind=ApiToken.Kind.PROJECT, project=project)
    revoke_api_token(token, by=request.user)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("project_tokens", slug=project.slug)
