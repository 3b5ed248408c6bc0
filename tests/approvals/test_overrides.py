"""Breaking glass: the approval policy says who may override which blocker (nobody, release
managers, administrators); every override needs a reason and stays visible for good — on the
release, in the decision's snapshot, on the dashboard, the timeline and the metrics page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.services.decisions import record_decision
from approvals.services.deploy import start_deploy
from approvals.services.policy import update_policy
from approvals.services.sign_offs import record_sign_off
from lib.errors import NotAllowed, Refused
from monitoring.services.results import record_check_result
from releases.models import Release, Status
from releases.services.freeze_windows import save_freeze_window
from releases.services.lifecycle import lock_scope
from tests.builders import (
    complete_rollback_plan,
    make_approved,
    make_ready,
    make_release,
    pass_checks,
    sign_required,
    tick_readiness,
)
from tests.html import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("ada", "ada@example.com", "x")


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    return release


def all_but_sign_offs(release, cast) -> None:
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)


def status_of(release: Release) -> str:
    return Release.objects.get(pk=release.pk).status


class TestStandingNoGo:
    def test_it_lets_nobody_override_a_standing_no_go_by_default(self, cast, release, admin):
        make_ready(release, cast)
        record_sign_off(
            release, by=cast.quinn, role="qa", decision="no_go", comment="Checkout broken"
        )
        for who in (cast.rita, admin):
            with pytest.raises(Refused) as refused:
                record_decision(release, by=who, outcome="go", override_reason="Ship it anyway")
            assert "lets nobody override a standing No-go" in str(refused.value)
        assert not release.decisions.exists()
        assert status_of(release) == Status.FROZEN

    def test_it_answers_409_in_the_api(self, cast, release):
        make_ready(release, cast)
        record_sign_off(
            release, by=cast.quinn, role="qa", decision="no_go", comment="Checkout broken"
        )
        client = APIClient()
        client.force_login(cast.rita)
        response = client.post(
            f"/api/releases/{release.pk}/decisions/",
            {"outcome": "go", "override_reason": "Ship it anyway"},
        )
        assert response.status_code == 409
        assert "lets nobody override a standing No-go" in response.json()["detail"]

    def test_it_lets_a_release_manager_override_it_where_the_policy_allows(self, cast, release):
        update_policy(cast.project, by=cast.rita, override_no_go="release_managers")
        make_ready(release, cast)
        record_sign_off(release, by=cast.quinn, role="qa", decision="no_go", comment="Cosmetic")
        decision = record_decision(
            release, by=cast.rita, outcome="go", override_reason="Cosmetic only"
        )
        assert decision.overridden
        assert decision.snapshot["override"]["categories"] == ["no_go"]


class TestMissingSignOffs:
    def test_it_keeps_the_override_of_missing_sign_offs_to_administrators(
        self, cast, frozen, admin
    ):
        all_but_sign_offs(frozen, cast)
        with pytest.raises(NotAllowed) as refused:
            record_decision(
                frozen, by=cast.rita, outcome="go", override_reason="Everyone is on leave"
            )
        assert str(refused.value).startswith(
            "Only an administrator can override missing or stale sign-offs (the project's "
            "approval policy)."
        )
        decision = record_decision(
            frozen, by=admin, outcome="go", override_reason="Everyone is on leave"
        )
        assert decision.overridden
        assert status_of(frozen) == Status.APPROVED

    def test_it_says_who_can_override_when_no_reason_is_given(self, cast, frozen):
        all_but_sign_offs(frozen, cast)
        with pytest.raises(Refused, match="A Go now needs an override with a reason"):
            record_decision(frozen, by=cast.rita, outcome="go")

    def test_it_offers_no_go_button_to_those_the_policy_does_not_let_override(
        self, cast, frozen, admin
    ):
        all_but_sign_offs(frozen, cast)
        page = client_for(cast.rita).get(frozen.get_absolute_url()).content.decode()
        assert 'data-testid="go-override-refusal"' in page
        assert "Only an administrator can override missing or stale sign-offs" in page
        assert 'id="decide-go"' not in page
        assert 'id="decide-no_go"' in page
        page = client_for(admin).get(frozen.get_absolute_url()).content.decode()
        assert 'id="decide-go"' in page
        assert 'name="override_reason"' in page

    def test_it_answers_403_on_the_page(self, cast, frozen):
        all_but_sign_offs(frozen, cast)
        response = client_for(cast.rita).post(
            reverse("decision_record", args=[frozen.pk]),
            {"outcome": "go", "override_reason": "Everyone is on leave"},
        )
        assert response.status_code == 403
        assert "Only an administrator can override missing or stale sign-offs" in (
            response.content.decode()
        )


class TestChecksAndFreezes:
    def test_it_lets_release_managers_override_failing_checks_by_default(self, cast, frozen):
        tick_readiness(frozen, cast)
        complete_rollback_plan(frozen, cast)
        sign_required(frozen, cast)
        check = frozen.checks.get(name="CI green")
        record_check_result(check, status="failing", value="failure", source="api")
        update_policy(cast.project, by=cast.rita, override_checks="administrators")
        with pytest.raises(NotAllowed, match="Only an administrator can override checks"):
            record_decision(frozen, by=cast.rita, outcome="go", override_reason="Known flaky test")
        update_policy(cast.project, by=cast.rita, override_checks="release_managers")
        decision = record_decision(
            frozen, by=cast.rita, outcome="go", override_reason="Known flaky test"
        )
        assert decision.snapshot["override"]["categories"] == ["checks"]

    def test_it_refuses_every_override_of_a_check_the_policy_closes(self, cast, frozen, admin):
        update_policy(cast.project, by=cast.rita, override_checks="nobody")
        tick_readiness(frozen, cast)
        complete_rollback_plan(frozen, cast)
        sign_required(frozen, cast)
        with pytest.raises(Refused, match="lets nobody override checks that are not passing"):
            record_decision(frozen, by=admin, outcome="go", override_reason="Urgent")

    def test_it_lets_nobody_deploy_in_a_freeze_when_the_policy_says_so(self, cast, release):
        approved = make_approved(release, cast)
        update_policy(cast.project, by=cast.rita, override_freeze="nobody")
        now = dt.datetime.now(dt.UTC)
        save_freeze_window(
            cast.project,
            by=cast.rita,
            reason="Black Friday",
            recurrence="once",
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=1),
        )
        with pytest.raises(Refused, match="lets nobody override a freeze window"):
            start_deploy(approved, by=cast.rita, override_reason="Hotfix")
        assert status_of(approved) == Status.APPROVED


class TestOverrideShown:
    @pytest.fixture
    def overridden(self, cast, frozen, admin):
        all_but_sign_offs(frozen, cast)
        record_decision(frozen, by=admin, outcome="go", override_reason="Regulator deadline")
        return Release.objects.get(pk=frozen.pk)

    def test_it_keeps_the_override_in_the_decision_snapshot(self, overridden):
        decision = overridden.decisions.get()
        override = decision.snapshot["override"]
        assert override["reason"] == "Regulator deadline"
        assert override["by"] == "ada"
        assert override["categories"] == ["sign_offs"]
        assert "QA has not signed off" in [b["message"] for b in override["blockers"]]

    def test_it_serves_the_override_in_the_decision_api(self, cast, overridden):
        client = APIClient()
        client.force_login(cast.vic)
        body = client.get(f"/api/decisions/{overridden.decisions.get().pk}/").json()
        assert body["snapshot"]["override"]["reason"] == "Regulator deadline"
        assert body["snapshot"]["override"]["categories"] == ["sign_offs"]

    def test_it_shows_the_override_on_the_release_page(self, cast, overridden):
        page = client_for(cast.vic).get(overridden.get_absolute_url()).content.decode()
        assert 'data-testid="override-chip"' in page
        assert "Regulator deadline" in page
        assert "QA has not signed off" in page

    def test_it_shows_the_override_on_the_dashboard_and_the_timeline(self, cast, overridden):
        dashboard = client_for(cast.vic).get(reverse("dashboard")).content.decode()
        assert "A Go or the deploy went ahead over a blocker" in dashboard
        timeline = client_for(cast.vic).get(reverse("timeline")).content.decode()
        assert f'data-testid="override-{overridden.pk}"' in timeline

    def test_it_counts_deploys_with_an_override_on_the_metrics_page(self, cast, overridden):
        start_deploy(overridden, by=cast.dana)
        other = make_approved(make_release(cast, "1.1.0"), cast)
        start_deploy(other, by=cast.dana)
        page = (
            client_for(cast.vic)
            .get(reverse("project_metrics", args=[cast.project.slug]))
            .content.decode()
        )
        assert 'data-testid="value-overrides">1</strong> of 2 deploys' in page
