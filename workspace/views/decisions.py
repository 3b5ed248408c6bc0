"""HTML views of the go/no-go poll and decision.

They answer like every release-page action (``workspace.views.common.run``): the go/no-go section
with htmx, a redirect back without JavaScript, and 403/409/422 with the reason when nothing
changed.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from approvals.forms import DecisionForm
from approvals.models import Decision
from approvals.services.decisions import open_poll, record_decision
from lib.htmx import SignedInRequest, signed_in
from releases.access import access_for, get_release_for
from releases.models import Role
from workspace.views.common import run

SECTION = "signoffs"


def _get_decision_for(user: Any, pk: int) -> Decision:
    decision = (
        Decision.objects.select_related("release__project", "decided_by").filter(pk=pk).first()
    )
    if decision is None or not access_for(user, decision.release).can_view:
        raise Http404("No such decision.")
    return decision


@signed_in
def decision_detail(request: SignedInRequest, pk: int) -> HttpResponse:
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
def poll_open(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    return run(
        request,
        pk,
        section=SECTION,
        rule=None,
        access=access,
        call=lambda: open_poll(release, by=request.user),
        done="Go/no-go poll opened: the people on the required roles are asked.",
    )


@signed_in
@require_POST
def decision_record(request: SignedInRequest, pk: int) -> HttpResponse:
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
        call=lambda: record_decision(release, by=request.user, **form.cleaned_data),
        done=lambda d: (
            f"{d.get_outcome_display()} recorded" + (" with an override." if d.overridden else ".")
        ),
    )
