"""Scope items, risks and change requests on the release page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.models import (
    Release,
    ScopeChangeRequest,
    ScopeItem,
)
from releases.services.scope import (
    add_scope_item,
    approve_change_request,
    reject_change_request,
    request_scope_change,
    resolve_risk,
    set_scope_item_state,
    update_scope_item,
    withdraw_change_request,
)
from workspace.views.common import answer, release_for, run


def _item(release: Release, item_pk: int) -> ScopeItem:
    return get_object_or_404(ScopeItem, pk=item_pk, release=release)


@signed_in
@require_POST
def scope_add(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ScopeItemForm(request.POST, project=release.project, auto_id="id_scope_%s")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        form=form,
        key="scope-new",
        call=lambda: add_scope_item(release, by=request.user, **form.cleaned_data),
        done=lambda item: f"Added “{item.title}”.",
    )


@signed_in
@require_POST
def scope_edit(request: SignedInRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    item = _item(release, item_pk)
    form = forms.ScopeItemForm(request.POST, project=release.project, prefix=f"item{item.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        form=form,
        key=f"scope-{item.pk}",
        call=lambda: update_scope_item(item, by=request.user, **form.cleaned_data),
        done=lambda saved: f"Saved “{saved.title}”.",
    )


@signed_in
@require_POST
def scope_state(request: SignedInRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    item = _item(release, item_pk)
    state = request.POST.get("state", "")
    if state not in ScopeItem.State.values:
        return answer(request, pk, section="scope", problem="Unknown state.", status=422)
    verb = "Deferred" if state == ScopeItem.State.DEFERRED else "Restored"
    return run(
        request,
        pk,
        section="scope",
        rule=rules.EDIT_SCOPE,
        access=access,
        call=lambda: set_scope_item_state(item, state, by=request.user),
        done=lambda saved: f"{verb} “{saved.title}”.",
    )


@signed_in
@require_POST
def risk_resolve(request: SignedInRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    item = _item(release, item_pk)
    form = forms.ResolveRiskForm(request.POST, prefix=f"resolve{item.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.RESOLVE_RISK,
        access=access,
        form=form,
        key=f"resolve-{item.pk}",
        call=lambda: resolve_risk(item, by=request.user, **form.cleaned_data),
        done="Risk resolved.",
    )


@signed_in
@require_POST
def change_request_new(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ChangeRequestForm(request.POST, release=release, auto_id="id_change_%s")
    return run(
        request,
        pk,
        section="scope",
        rule=rules.REQUEST_SCOPE_CHANGE,
        access=access,
        form=form,
        key="change-request",
        call=lambda: request_scope_change(release, by=request.user, **form.service_kwargs()),
        done="Change requested: Product and the release manager decide.",
    )


def _change_request(release: Release, request_pk: int) -> ScopeChangeRequest:
    return get_object_or_404(ScopeChangeRequest, pk=request_pk, release=release)


@signed_in
@require_POST
def change_request_accept(request: SignedInRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    change = _change_request(release, request_pk)
    role = access.accepting_role(change)
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        call=lambda: approve_change_request(change, by=request.user, as_role=role),
        done=lambda decided: (
            "Accepted and applied."
            if decided.state == ScopeChangeRequest.State.ACCEPTED
            else "Accepted; waiting for the other side."
        ),
    )


@signed_in
@require_POST
def change_request_reject(request: SignedInRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    change = _change_request(release, request_pk)
    form = forms.ReasonForm(request.POST, prefix=f"reject{change.pk}")
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        form=form,
        key=f"reject-{change.pk}",
        call=lambda: reject_change_request(
            change, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done="Change rejected.",
    )


@signed_in
@require_POST
def change_request_withdraw(request: SignedInRequest, pk: int, request_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    change = _change_request(release, request_pk)
    return run(
        request,
        pk,
        section="scope",
        rule=None,
        access=access,
        call=lambda: withdraw_change_request(change, by=request.user),
        done="Request withdrawn.",
    )
