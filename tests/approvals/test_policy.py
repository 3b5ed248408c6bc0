"""The approval policy: required roles and quorum per kind, separation of duties, the decider."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.models import DEFAULT_REQUIRED_ROLES, ApprovalPolicy
from approvals.readiness import readiness_for, required_roles
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.policy import set_role_requirement, update_policy
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from lib.errors import NotAllowed, Refused
from releases.services.lifecycle import lock_scope
from releases.services.projects import set_project_roles
from tests.builders import make_ready, make_release, make_user

pytestmark = pytest.mark.django_db


def qa_state(release):
    return next(r for r in readiness_for(release).roles if r.role == "qa")


def test_it_gives_a_new_project_the_default_policy(cast):
    policy = ApprovalPolicy.objects.get(project=cast.project)
    assert policy.separation_of_duties is True
    assert policy.decider_role == "release_manager"
    for kind, roles in DEFAULT_REQUIRED_ROLES.items():
        assert policy.required_roles(kind) == roles


def test_it_requires_the_roles_of_the_release_kind(cast):
    hotfix = make_release(cast, "1.0.1", kind="hotfix")
    major = make_release(cast, "2.0.0", kind="major")
    assert set(required_roles(hotfix)[0]) == {"dev", "devops"}
    assert set(required_roles(major)[0]) == {"dev", "qa", "devops", "product", "release_manager"}


def test_it_needs_two_qa_go_sign_offs_on_a_major_release(cast):
    second_qa = make_user("quentin")
    set_project_roles(cast.project, second_qa, ["qa"], by=cast.rita)
    release = make_release(cast, "2.0.0", kind="major")
    make_ready(release, cast)  # everyone signs once: one QA Go

    state = qa_state(release)
    assert (state.quorum, len(state.go), state.state) == (2, 1, "waiting")
    readiness = readiness_for(release)
    assert "QA needs 2 Go sign-offs, has 1" in readiness.summary()
    with pytest.raises(Refused, match="QA needs 2 Go sign-offs, has 1"):
        record_decision(release, by=cast.rita, outcome="go")

    record_sign_off(release, by=second_qa, role="qa", decision="go")
    assert qa_state(release).state == "go"
    assert readiness_for(release).ready
    record_decision(release, by=cast.rita, outcome="go")


def test_it_does_not_count_one_person_twice_towards_a_quorum(cast):
    release = make_release(cast, "2.0.0", kind="major")
    make_ready(release, cast)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go", comment="again")
    assert len(qa_state(release).go) == 1


def test_it_changes_the_quorum_for_future_readiness(cast):
    release = make_release(cast)
    make_ready(release, cast)
    assert readiness_for(release).ready
    set_role_requirement(cast.project, by=cast.rita, release_kind="standard", role="qa", quorum=3)
    assert "QA needs 3 Go sign-offs, has 1" in readiness_for(release).summary()
    set_role_requirement(cast.project, by=cast.rita, release_kind="standard", role="qa", quorum=0)
    assert "qa" not in required_roles(release)[0]
    assert readiness_for(release).ready


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"release_kind": "weekly", "role": "qa", "quorum": 1}, "release_kind"),
        ({"release_kind": "major", "role": "viewer", "quorum": 1}, "role"),
        ({"release_kind": "major", "role": "qa", "quorum": -1}, "quorum"),
        ({"release_kind": "major", "role": "qa", "quorum": "two"}, "quorum"),
    ],
)
def test_it_refuses_a_bad_role_requirement_with_a_field_error(cast, fields, field):
    with pytest.raises(ValidationError) as error:
        set_role_requirement(cast.project, by=cast.rita, **fields)
    assert field in error.value.message_dict
    assert (
        ApprovalPolicy.objects.get(project=cast.project).required_roles("major")
        == (DEFAULT_REQUIRED_ROLES["major"])
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"decider_role": "viewer"}, "decider_role"),
        ({"decider_role": "boss"}, "decider_role"),
        ({"reminder_hours_before": -3}, "reminder_hours_before"),
    ],
)
def test_it_refuses_a_bad_policy_with_a_field_error_and_keeps_the_old_one(cast, changes, field):
    with pytest.raises(ValidationError) as error:
        update_policy(cast.project, by=cast.rita, **changes)
    assert field in error.value.message_dict
    policy = ApprovalPolicy.objects.get(project=cast.project)
    assert (policy.decider_role, policy.reminder_hours_before) == ("release_manager", 24)


def test_it_keeps_one_person_to_one_role_by_default(cast, release):
    assign_role(release, cast.quinn, "dev", by=cast.rita)
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    with pytest.raises(NotAllowed, match="You already signed as QA"):
        record_sign_off(release, by=cast.quinn, role="dev", decision="go")
    assert not release.sign_offs.filter(role="dev").exists()


def test_it_lets_one_person_sign_two_roles_when_the_project_allows_it(cast, release):
    update_policy(cast.project, by=cast.rita, separation_of_duties=False)
    assign_role(release, cast.quinn, "dev", by=cast.rita)
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    record_sign_off(release, by=cast.quinn, role="dev", decision="go")
    assert set(release.sign_offs.current().values_list("role", flat=True)) == {"qa", "dev"}


def test_it_frees_the_other_role_once_my_sign_off_is_withdrawn(cast, release):
    assign_role(release, cast.quinn, "dev", by=cast.rita)
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    withdraw_sign_off(release, by=cast.quinn, role="qa")
    record_sign_off(release, by=cast.quinn, role="dev", decision="go")
    assert list(release.sign_offs.current().values_list("role", flat=True)) == ["dev"]


def test_it_lets_the_policy_name_another_decider(cast, release):
    make_ready(release, cast)
    # Paul signed as Product: he decides only where signers may also decide.
    update_policy(cast.project, by=cast.rita, decider_role="product", signer_cannot_decide=False)
    with pytest.raises(NotAllowed, match="Only the product records the go/no-go"):
        record_decision(release, by=cast.rita, outcome="go")
    record_decision(release, by=cast.paul, outcome="go")
    assert release.decisions.get().decided_by == cast.paul
