"""The approval policy form inside project settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.forms import quorum_field_name
from approvals.models import ApprovalPolicy, RoleRequirement
from approvals.readiness import readiness_for
from releases.models import SIGNING_ROLES, ReleaseKind
from tests.builders import make_release
from tests.html import client_for

pytestmark = pytest.mark.django_db


def policy_data(cast, **changes) -> dict:
    policy = ApprovalPolicy.objects.get(project=cast.project)
    current = {(r.release_kind, r.role): r.quorum for r in policy.requirements.all()}
    data = {
        "policy-separation_of_duties": "on",
        "policy-creator_cannot_sign_off": "on",
        "policy-signer_cannot_decide": "on",
        "policy-no_self_assignment": "on",
        "policy-require_commit_before_poll": "on",
        "policy-override_no_go": "nobody",
        "policy-override_sign_offs": "administrators",
        "policy-override_checks": "release_managers",
        "policy-override_freeze": "release_managers",
        "policy-override_deploy_window": "release_managers",
        "policy-sign_off_expiry_days": "",
        "policy-decider_role": "release_manager",
        "policy-reminder_hours_before": 24,
    }
    for kind in ReleaseKind.values:
        for role in SIGNING_ROLES:
            data["req-" + quorum_field_name(kind, role)] = current.get((kind, role), 0)
    return data | changes


def test_it_saves_required_roles_quorum_and_the_rules(cast):
    data = policy_data(
        cast,
        **{
            "policy-sign_off_expiry_days": 7,
            "policy-decider_role": "product",
            "req-quorum_standard_qa": 2,
            "req-quorum_standard_product": 0,
        },
    )
    del data["policy-separation_of_duties"]
    response = client_for(cast.rita).post(reverse("policy_update", args=[cast.project.slug]), data)
    assert response.status_code == 302
    policy = ApprovalPolicy.objects.get(project=cast.project)
    assert (policy.sign_off_expiry_days, policy.decider_role) == (7, "product")
    assert policy.separation_of_duties is False
    assert policy.required_roles("standard") == {"dev": 1, "qa": 2, "devops": 1}
    roles = [r.role for r in readiness_for(make_release(cast, "5.0.0")).roles]
    assert roles == ["dev", "qa", "devops"]


def test_it_shows_errors_and_saves_nothing_when_a_quorum_is_invalid(cast):
    before = list(RoleRequirement.objects.values_list("release_kind", "role", "quorum"))
    data = policy_data(cast, **{"policy-decider_role": "product", "req-quorum_major_qa": -1})
    response = client_for(cast.rita).post(reverse("policy_update", args=[cast.project.slug]), data)
    assert response.status_code == 422
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert list(RoleRequirement.objects.values_list("release_kind", "role", "quorum")) == before
    assert ApprovalPolicy.objects.get(project=cast.project).decider_role == "release_manager"


def test_it_lets_only_release_managers_change_the_policy(cast):
    data = policy_data(cast, **{"req-quorum_standard_qa": 5})
    response = client_for(cast.quinn).post(reverse("policy_update", args=[cast.project.slug]), data)
    assert response.status_code == 403
    assert ApprovalPolicy.objects.get(project=cast.project).required_roles("standard")["qa"] == 1
    assert (
        client_for(cast.otto)
        .post(reverse("policy_update", args=[cast.project.slug]), data)
        .status_code
        == 404
    )


def test_it_shows_the_policy_read_only_to_other_members(cast):
    page = (
        client_for(cast.devin)
        .get(reverse("project_settings", args=[cast.project.slug]))
        .content.decode()
    )
    assert "One person gives at most one role&#x27;s sign-off" in page
    assert 'name="req-quorum_standard_qa"' not in page
