"""HTML view of a project's approval policy."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from approvals.forms import PolicyForm, RequirementsForm
from approvals.services.policy import POLICY_FIELDS, ensure_policy, update_policy
from lib.htmx import SignedInRequest, signed_in
from releases.access import get_project_for
from workspace.views.projects import settings_run


@signed_in
@require_POST
def policy_update(request: SignedInRequest, slug: str) -> HttpResponse:
    """The approval policy and its required roles × quorum, saved together or not at all."""
    project = get_project_for(request.user, slug)
    policy = ensure_policy(project)
    current = {(r.release_kind, r.role): r.quorum for r in policy.requirements.all()}
    policy_form = PolicyForm(request.POST, instance=policy, prefix="policy")
    roles_form = RequirementsForm(request.POST, current=current, prefix="req")
    form, key = (
        (policy_form, "policy") if not policy_form.is_valid() else (roles_form, "policy-roles")
    )

    def save() -> None:
        update_policy(
            project,
            by=request.user,
            requirements=[
                {"release_kind": kind, "role": role, "quorum": quorum}
                for kind, role, quorum in roles_form.requirements()
                if current.get((kind, role), 0) != quorum
            ],
            **{name: policy_form.cleaned_data[name] for name in POLICY_FIELDS},
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
