"""HTML views of the approvals flow: sign-offs, the go/no-go poll and decision, the policy.

They answer like every release-page action (``workspace.views.common.run``): the go/no-go section
with htmx, a redirect back without JavaScript, and 403/409/422 with the reason when nothing
changed.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from approvals import services
from approvals.forms import (
    DecisionForm,
    PolicyForm,
    RequirementsForm,
    SignOffForm,
    WithdrawSignOffForm,
)
from approvals.models import Decision
from lib.htmx import signed_in
from releases import access as rules
from releases.access import access_for, get_project_for, get_release_for
from releases.models import Role
from workspace.views.common import run
from workspace.views.projects import settings_run

SECTION = "signoffs"


def _get_decision_for(user: Any, pk: int) -> Decision:
    decision = (
        Decision.objects.select_related("release__project", "decided_by").filter(pk=pk).first()
    )
    if decision is None or not access_for(user, decision.release).can_view:
        raise Http404("No such decision.")
    return decision


@signed_in
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _get_decision_for(request.user, pk)
    if request.GET.get("format") == "json":
        response = JsonResponse(decision.snapshot, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = (
            f'attachment; filename="decision-{decision.pk}-{decision.release.version}.json"'
        )
        return response
    snapshot = decision.snapshot or {}
    readiness = snapshot.get("readiness", {})
    role_labels = dict(Role.choices)
    return render(
        request,
        "approvals/decision.html",
        {
            "decision": decision,
            "release": decision.release,
            "snapshot": snapshot,
            "readiness": readiness,
            "roles": [
                {**row, "label": role_labels.get(row.get("role"), row.get("role"))}
                for row in readiness.get("roles", [])
            ],
            "sign_offs": [
                {**row, "role_label": role_labels.get(row.get("role"), row.get("role"))}
                for row in snapshot.get("sign_offs", [])
            ],
        },
    )


@signed_in
@require_POST
def sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    role = request.POST.get("role", "")
    form = SignOffForm(request.POST, auto_id=f"id_sign_{role}_%s")
    return run(
        request,
        pk,
        section=SECTION,
        rule=None,
        access=access,
        form=form,
        key=f"sign-{role}",
        call=lambda: services.record_sign_off(
            release,
            by=request.user,
            role=form.cleaned_data["role"],
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        ),
        done=lambda s: f"Your {s.get_decision_display()} as {s.get_role_display()} is recorded.",
    )


@signed_in
@require_POST
def sign_off_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    form = WithdrawSignOffForm(request.POST)
    role = request.POST.get("role", "")
    return run(
        request,
        pk,
        section=SECTION,
        rule=rules.WITHDRAW_SIGN_OFF,
        access=access,
        subject=(role,),
        form=form,
        key=f"sign-{role}",
        call=lambda: services.withdraw_sign_off(
            release, by=request.user, role=form.cleaned_data["role"]
        ),
        done="Your sign-off is withdrawn.",
    )


@signed_in
@require_POST
def poll_open(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    return run(
        request,
        pk,
        section=SECTION,
        rule=None,
        access=access,
        call=lambda: services.open_poll(release, by=request.user),
        done="Go/no-go poll opened: the people on the required roles are asked.",
    )


@signed_in
@require_POST
def decision_record(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    form = DecisionForm(request.POST, auto_id="id_decision_%s")
    return run(
        request,
        pk,
        section=SECTION,
        rule=None,
        access=access,
        form=form,
        key="decision",
        call=lambda: services.record_decision(release, by=request.user, **form.cleaned_data),
        done=lambda d: (
            f"{d.get_outcome_display()} recorded" + (" with an override." if d.overridden else ".")
        ),
    )


@signed_in
@require_POST
def policy_update(request: HttpRequest, slug: str) -> HttpResponse:
    """The approval policy and its required roles × quorum, saved together or not at all."""
    project = get_project_for(request.user, slug)
    policy = services.ensure_policy(project)
    current = {(r.release_kind, r.role): r.quorum for r in policy.requirements.all()}
    policy_form = PolicyForm(request.POST, instance=policy, prefix="policy")
    roles_form = RequirementsForm(request.POST, current=current, prefix="req")
    form, key = (
        (policy_form, "policy") if not policy_form.is_valid() else (roles_form, "policy-roles")
    )

    def save() -> None:
        services.update_policy(
            project,
            by=request.user,
            requirements=[
                {"release_kind": kind, "role": role, "quorum": quorum}
                for kind, role, quorum in roles_form.requirements()
                if current.get((kind, role), 0) != quorum
            ],
            **{name: policy_form.cleaned_data[name] for name in services.POLICY_FIELDS},
        )

    return settings_run(
        request,
        project,
        anchor="policy",
        form=form,
        key=key,
        call=save,
        done="Approval policy saved.",
    )
