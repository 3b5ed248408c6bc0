"""Who may approve: the release's creator does not sign it off, a signer does not record the
go/no-go, one person gives one role's sign-off, and nobody makes themselves an approver of their
own release. All on by default; a small team switches each off, and every release shows it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.models import CREATOR_SIGNS, SIGNER_DECIDES, ApprovalPolicy
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.policy import set_role_requirement, update_policy
from approvals.services.sign_offs import record_sign_off
from lib.errors import NotAllowed
from releases.models import Release, RoleAssignment, Status
from releases.services.lifecycle import lock_scope
from tests.builders import make_ready, make_release, second_release_manager
from tests.html import client_for

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("ada", "ada@example.com", "x")


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    return release


def test_it_turns_every_rule_on_for_a_new_project(cast):
    policy = ApprovalPolicy.objects.get(project=cast.project)
    assert policy.creator_cannot_sign_off
    assert policy.signer_cannot_decide
    assert policy.separation_of_duties
    assert policy.no_self_assignment
    assert policy.relaxed_rules() == []


class TestSelfAssignment:
    def test_it_refuses_the_creator_making_herself_a_required_approver(self, cast, release):
        with pytest.raises(NotAllowed) as refused:
            assign_role(release, cast.rita, "qa", by=cast.rita)
        assert str(refused.value) == (
            "You cannot make yourself QA on a release you created: the project's approval "
            "policy wants its approvers to be someone other than its creator. Ask another "
            "release manager."
        )
        assert not RoleAssignment.objects.filter(release=release, user=cast.rita, role="qa")

    def test_it_says_so_on_the_page_and_in_the_api(self, cast, release):
        page = client_for(cast.rita).post(
            reverse("role_assign", args=[release.pk]),
            {"user": cast.rita.pk, "role": "qa"},
        )
        assert page.status_code == 403
        assert "You cannot make yourself QA on a release you created" in page.content.decode()
        response = api(cast.rita).post(
            f"/api/releases/{release.pk}/assignments/", {"user": "rita", "role": "qa"}
        )
        assert response.status_code == 403
        assert "You cannot make yourself QA" in response.json()["detail"]
        assert not RoleAssignment.objects.filter(release=release, user=cast.rita, role="qa")

    def test_it_lets_another_release_manager_assign_her(self, cast, release):
        rhea = second_release_manager(release, cast)
        assign_role(release, cast.rita, "qa", by=rhea)
        assert RoleAssignment.objects.filter(release=release, user=cast.rita, role="qa")

    def test_it_allows_it_when_the_project_switched_the_rule_off(self, cast, release):
        update_policy(cast.project, by=cast.rita, no_self_assignment=False)
        assign_role(release, cast.rita, "qa", by=cast.rita)
        assert RoleAssignment.objects.filter(release=release, user=cast.rita, role="qa")


class TestCreatorSignsOff:
    def test_it_refuses_the_creators_sign_off_even_when_she_holds_the_role(
        self, cast, frozen, admin
    ):
        assign_role(frozen, cast.rita, "qa", by=admin)
        with pytest.raises(NotAllowed) as refused:
            record_sign_off(frozen, by=cast.rita, role="qa", decision="go")
        assert str(refused.value) == CREATOR_SIGNS
        assert not frozen.sign_offs.exists()

    def test_it_answers_403_with_the_policys_words_in_the_api(self, cast, frozen, admin):
        assign_role(frozen, cast.rita, "qa", by=admin)
        response = api(cast.rita).post(
            f"/api/releases/{frozen.pk}/sign-offs/", {"role": "qa", "decision": "go"}
        )
        assert response.status_code == 403
        assert response.json()["detail"] == CREATOR_SIGNS

    def test_it_counts_her_sign_off_when_the_rule_is_off_and_shows_it_on_the_release(
        self, cast, frozen, admin
    ):
        update_policy(cast.project, by=cast.rita, creator_cannot_sign_off=False)
        assign_role(frozen, cast.rita, "qa", by=admin)
        record_sign_off(frozen, by=cast.rita, role="qa", decision="go")
        page = client_for(cast.vic).get(frozen.get_absolute_url()).content.decode()
        assert "Approval rules relaxed" in page
        assert "the release&#x27;s creator may sign it off" in page


def ready_with_a_release_manager_sign_off(cast) -> tuple[Release, Any]:
    set_role_requirement(
        cast.project, by=cast.rita, release_kind="standard", role="release_manager", quorum=1
    )
    release = make_ready(make_release(cast), cast)
    return release, second_release_manager(release, cast)


class TestSignerDecides:
    def test_it_refuses_the_decision_to_someone_who_signed(self, cast):
        release, rhea = ready_with_a_release_manager_sign_off(cast)
        assert release.sign_offs.filter(user=rhea).exists()
        with pytest.raises(NotAllowed) as refused:
            record_decision(release, by=rhea, outcome="go")
        assert str(refused.value) == SIGNER_DECIDES
        record_decision(release, by=cast.rita, outcome="go")
        assert Release.objects.get(pk=release.pk).status == Status.APPROVED

    def test_it_shows_the_signer_the_policys_words_instead_of_the_decision_form(self, cast):
        release, rhea = ready_with_a_release_manager_sign_off(cast)
        page = client_for(rhea).get(release.get_absolute_url()).content.decode()
        assert 'data-testid="decide-refusal"' in page
        assert 'id="decide-go"' not in page
        page = client_for(cast.rita).get(release.get_absolute_url()).content.decode()
        assert 'id="decide-go"' in page

    def test_it_answers_403_in_the_api(self, cast):
        release, rhea = ready_with_a_release_manager_sign_off(cast)
        response = api(rhea).post(f"/api/releases/{release.pk}/decisions/", {"outcome": "go"})
        assert response.status_code == 403
        assert response.json()["detail"] == SIGNER_DECIDES


class TestOneRolePerPerson:
    def test_it_refuses_a_second_roles_sign_off_from_one_person(self, cast, frozen):
        assign_role(frozen, cast.quinn, "dev", by=cast.rita)
        record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
        with pytest.raises(NotAllowed, match="one person gives at most one role's sign-off"):
            record_sign_off(frozen, by=cast.quinn, role="dev", decision="go")


class TestPolicyShown:
    def test_it_shows_every_rule_in_the_api(self, cast):
        body = api(cast.vic).get(f"/api/projects/{cast.project.slug}/approval-policy/").json()
        assert body["creator_cannot_sign_off"] is True
        assert body["signer_cannot_decide"] is True
        assert body["no_self_assignment"] is True
        assert body["separation_of_duties"] is True
        assert body["require_commit_before_poll"] is True
        assert body["override_no_go"] == "nobody"
        assert body["override_sign_offs"] == "administrators"

    def test_it_switches_a_rule_off_through_the_api(self, cast):
        response = api(cast.rita).patch(
            f"/api/projects/{cast.project.slug}/approval-policy/",
            {"signer_cannot_decide": False},
            format="json",
        )
        assert response.status_code == 200
        assert ApprovalPolicy.objects.get(project=cast.project).signer_cannot_decide is False

    def test_it_shows_every_rule_on_the_policy_page(self, cast):
        page = client_for(cast.rita).get(cast.project.get_absolute_url()).content.decode()
        assert "The release&#x27;s creator may not sign it off" in page
        assert "Whoever signed off may not record the go/no-go" in page
        assert "The creator may not make themselves an approver" in page
        assert "Who may override a standing No-go" in page
        assert "Who may deploy outside the deploy window" in page
