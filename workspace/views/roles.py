"""Assigning people to a release's roles."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from approvals.services import deploy
from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.services.roles import unassign_role
from workspace.views.common import release_for, run


@signed_in
@require_POST
def role_assign(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.AssignRoleForm(request.POST, project=release.project, auto_id="id_assign_%s")
    return run(
        request,
        pk,
        section="signoffs",
        rule=rules.ASSIGN_ROLES,
        access=access,
        form=form,
        key="assign",
        call=lambda: deploy.assign_role(
            release, form.cleaned_data["user"], form.cleaned_data["role"], by=request.user
        ),
        done=lambda a: f"{a.user} is now {a.get_role_display()} on this release.",
    )


@signed_in
@require_POST
def role_unassign(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.AssignRoleForm(request.POST, project=release.project, auto_id="id_unassign_%s")
    return run(
        request,
        pk,
        section="signoffs",
        rule=rules.ASSIGN_ROLES,
        access=access,
        form=form,
        key="assign",
        call=lambda: unassign_role(
            release, form.cleaned_data["user"], form.cleaned_data["role"], by=request.user
        ),
        done="Role removed.",
    )
