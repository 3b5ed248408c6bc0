"""The project's freeze windows."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import forms
from releases.access import (
    get_project_for,
)
from releases.services.freeze_windows import FREEZE_FIELDS, delete_freeze_window, save_freeze_window
from workspace.views.projects import settings_run


@signed_in
@require_POST
def freeze_add(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    form = forms.FreezeWindowForm(request.POST, prefix="fw")
    return settings_run(
        request,
        project,
        anchor="freeze",
        form=form,
        key="window-new",
        call=lambda: save_freeze_window(
            project,
            by=request.user,
            **{name: form.cleaned_data[name] for name in FREEZE_FIELDS},
        ),
        done=lambda window: f"Freeze window “{window.reason}” saved.",
    )


@signed_in
@require_POST
def freeze_delete(request: SignedInRequest, slug: str, window_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    window = get_object_or_404(project.freeze_windows.all(), pk=window_pk)
    return settings_run(
        request,
        project,
        anchor="freeze",
        call=lambda: delete_freeze_window(window, by=request.user),
        done=f"Freeze window “{window.reason}” removed.",
    )
