"""The release's lifecycle buttons, one view per action like their twins in the API."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from approvals.services import deploy
from lib.htmx import SignedInRequest, signed_in
from monitoring.services import health
from releases import access as rules
from releases import forms
from releases.models import (
    Release,
)
from releases.services import lifecycle, rollback
from releases.services.lifecycle import release_time_to_restore
from releases.templatetags.greenlight import duration
from workspace.views.common import release_for, run


@signed_in
@require_POST
def lock_scope(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    return run(
        request,
        pk,
        section="header",
        rule=rules.LOCK_SCOPE,
        access=access,
        call=lambda: lifecycle.lock_scope(release, by=request.user),
        done="Scope locked.",
    )


@signed_in
@require_POST
def cancel_release(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ReasonForm(request.POST, auto_id="id_cancel_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.CANCEL,
        access=access,
        form=form,
        key="cancel",
        call=lambda: lifecycle.cancel_release(
            release, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done="Release cancelled.",
    )


@signed_in
@require_POST
def start_deploy(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.StartDeployForm(request.POST, auto_id="id_deploy_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.START_DEPLOY,
        access=access,
        # Overriding a freeze or the planned time is a release manager's call, whoever
        # starts the deploy.
        also=(rules.OVERRIDE_DEPLOY_GUARDS,)
        if request.POST.get("override_reason", "").strip()
        else (),
        form=form,
        key="start_deploy",
        call=lambda: deploy.start_deploy(
            release, by=request.user, override_reason=form.cleaned_data["override_reason"]
        ),
        done="Deploy started.",
    )


@signed_in
@require_POST
def finish_deploy(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    return run(
        request,
        pk,
        section="header",
        rule=rules.FINISH_DEPLOY,
        access=access,
        call=lambda: lifecycle.finish_deploy(release, by=request.user),
        done="Deploy done.",
    )


@signed_in
@require_POST
def complete_release(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    return run(
        request,
        pk,
        section="header",
        rule=rules.COMPLETE,
        access=access,
        # Fail closed: released only when every required post-release check counts as
        # passing and the release is not unhealthy.
        call=lambda: health.release_if_healthy(release, by=request.user),
        done="Released.",
    )


@signed_in
@require_POST
def restore_health(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ReasonForm(request.POST, auto_id="id_restore_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.RESTORE_HEALTH,
        access=access,
        form=form,
        key="restore_health",
        call=lambda: health.restore_health(
            release, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done="Marked healthy again.",
    )


@signed_in
@require_POST
def roll_back(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ReasonForm(request.POST, auto_id="id_rollback_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.ROLL_BACK,
        access=access,
        form=form,
        key="roll_back",
        call=lambda: rollback.roll_back(
            release, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done="Rolled back.",
    )


@signed_in
@require_POST
def finish_rollback(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.FinishRollbackForm(request.POST, auto_id="id_finish_rollback_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.FINISH_ROLLBACK,
        access=access,
        form=form,
        key="finish_rollback",
        call=lambda: rollback.finish_rollback(
            release, by=request.user, at=form.cleaned_data["finished_at"]
        ),
        done=_restored,
    )


@signed_in
@require_POST
def carry_forward(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.CarryForwardForm(request.POST, auto_id="id_carry_%s")
    return run(
        request,
        pk,
        section="header",
        rule=rules.CARRY_FORWARD,
        access=access,
        form=form,
        key="carry_forward",
        call=lambda: rollback.carry_scope_forward(
            release, by=request.user, version=form.cleaned_data["version"]
        ),
        done=lambda new: f"Release {new.version} created with the scope of {release.version}.",
        go_to=lambda new: new.get_absolute_url(),
    )


# The buttons post to releases/<pk>/do/<action>/ (the action's name on the page).
ACTIONS: dict[str, Callable[[HttpRequest, int], HttpResponse]] = {
    "lock_scope": lock_scope,
    "cancel": cancel_release,
    "start_deploy": start_deploy,
    "finish_deploy": finish_deploy,
    "complete": complete_release,
    "restore_health": restore_health,
    "roll_back": roll_back,
    "finish_rollback": finish_rollback,
    "carry_forward": carry_forward,
}


@signed_in
@require_POST
def release_action(request: SignedInRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    return ACTIONS[action](request, pk)


def _restored(release: Release) -> str:
    restore = release_time_to_restore(release)
    if restore is None:
        return "Rollback finished."
    return f"Rollback finished: service restored {duration(restore)} after the failure."
