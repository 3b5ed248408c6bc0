"""The rollback plan and its triggers."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from monitoring import forms as monitoring_forms
from monitoring.models import CheckPhase, RollbackTrigger
from monitoring.services import health
from releases import access as rules
from releases import forms
from releases.models import (
    Release,
)
from releases.services.rollback import update_rollback_plan
from workspace.views.common import release_for, run


@signed_in
@require_POST
def rollback_plan(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.RollbackPlanForm(
        request.POST, project=release.project, auto_id="id_rollback_plan_%s"
    )

    def saved(plan: Any) -> str:
        missing = plan.missing(release.kind)
        return "Rollback plan saved" + (
            f"; still missing {', '.join(missing)}." if missing else "; it is complete."
        )

    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key="rollback",
        call=lambda: update_rollback_plan(release, by=request.user, **form.cleaned_data),
        done=saved,
    )


def _post_release_checks(release: Release) -> Any:
    return release.checks.filter(phase=CheckPhase.POST_RELEASE).order_by("name", "pk")


def _trigger(release: Release, trigger_pk: int) -> RollbackTrigger:
    return get_object_or_404(
        RollbackTrigger.objects.select_related("release", "check_ref"),
        pk=trigger_pk,
        release=release,
    )


@signed_in
@require_POST
def rollback_trigger_add(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = monitoring_forms.RollbackTriggerForm(
        request.POST, checks=_post_release_checks(release), auto_id="id_trigger_%s"
    )
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key="trigger-new",
        call=lambda: health.add_rollback_trigger(
            release,
            by=request.user,
            check=form.cleaned_data["check"],
            mode=form.cleaned_data["mode"],
            description=form.cleaned_data["description"],
        ),
        done=lambda t: f"Trigger added: {t.description} → {t.get_mode_display().lower()}.",
    )


@signed_in
@require_POST
def rollback_trigger_save(request: SignedInRequest, pk: int, trigger_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    trigger = _trigger(release, trigger_pk)
    form = monitoring_forms.RollbackTriggerChangeForm(request.POST, prefix=f"trigger{trigger.pk}")
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        form=form,
        key=f"trigger-{trigger.pk}",
        call=lambda: health.update_rollback_trigger(
            trigger,
            by=request.user,
            mode=form.cleaned_data["mode"],
            description=form.cleaned_data["description"],
        ),
        done=lambda t: f"Trigger saved: {t.description} → {t.get_mode_display().lower()}.",
    )


@signed_in
@require_POST
def rollback_trigger_remove(request: SignedInRequest, pk: int, trigger_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    trigger = _trigger(release, trigger_pk)
    return run(
        request,
        pk,
        section="rollback",
        rule=rules.EDIT_ROLLBACK_PLAN,
        access=access,
        call=lambda: health.remove_rollback_trigger(trigger, by=request.user),
        done=f"Trigger removed: {trigger.description}.",
    )
