"""Deploy reports from CI, the health window's end, rollback, carrying scope forward, review."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from approvals.services.decisions import record_decision
from approvals.services.deploy import start_deploy
from lib.errors import Refused
from monitoring.services.results import record_check_result
from releases.models import Health, Notification, Release, Status
from releases.services.checklists import tick_checklist_item
from releases.services.common import standby_roster
from releases.services.lifecycle import (
    finish_deploy,
    lock_scope,
    mark_health,
    record_deploy_report,
    release_time_to_restore,
)
from releases.services.review import add_review_action, complete_review_action
from releases.services.rollback import (
    carry_scope_forward,
    finish_rollback,
    recommend_rollback,
    roll_back,
    update_rollback_plan,
)
from releases.services.scope import (
    add_scope_item,
    approve_change_request,
    request_scope_change,
    set_scope_item_state,
)
from tests.builders import (
    let_release_managers_override,
    make_approved,
    make_deploying,
    make_monitoring,
    make_release,
)
from workspace.review import review_facts

pytestmark = pytest.mark.django_db


class TestDeployReports:
    def test_it_starts_and_finishes_the_deploy_when_ci_reports_it(self, cast, release):
        make_approved(release, cast)
        record_deploy_report(release, by="CI token deploy-bot", stage="started")
        assert Release.objects.get(pk=release.pk).status == Status.DEPLOYING
        for item in release.checklist_items.filter(phase="deployment"):
            tick_checklist_item(item, by=cast.dana)
        record_deploy_report(release, by="CI token deploy-bot", stage="finished")
        release.refresh_from_db()
        assert release.status == Status.MONITORING
        assert release.deploy_started_at <= release.deploy_finished_at
        assert release.events.get(verb="deploy_finished").actor_label == "CI token deploy-bot"

    def test_it_refuses_a_reported_start_of_an_unapproved_release(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="Cannot start the deploy: the release is scope frozen"):
            record_deploy_report(release, by="CI", stage="started")

    def test_it_marks_the_release_unhealthy_on_a_failed_deploy_and_tells_the_decider(
        self, cast, release
    ):
        make_deploying(release, cast)
        update_rollback_plan(release, by=cast.dana, decider=cast.dana)
        record_deploy_report(release, by="CI", stage="failed", detail="helm timeout")
        release.refresh_from_db()
        assert release.status == Status.DEPLOYING
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == "deploy failed (helm timeout)"
        note = Notification.objects.get(user=cast.dana, verb="unhealthy")
        assert "UNHEALTHY: deploy failed (helm timeout)" in note.message
        assert "Revert steps:\nRedeploy the previous tag." in note.message

    def test_it_rejects_an_unknown_stage(self, cast, release):
        with pytest.raises(ValidationError):
            record_deploy_report(release, by="CI", stage="exploded")


class TestStandby:
    def test_it_tells_the_standby_roster_and_the_rollback_decider_that_the_deploy_started(
        self, cast, release
    ):
        make_approved(release, cast)
        update_rollback_plan(release, by=cast.dana, decider=cast.paul)
        start_deploy(release, by=cast.dana, override_reason="test")
        told = set(
            Notification.objects.filter(release=release, verb="deploy_started").values_list(
                "user__username", flat=True
            )
        )
        # Developers, DevOps, the release manager and the decider (Product here); not QA,
        # not the viewer.
        assert told == {"devin", "dana", "rita", "paul"}
        assert [u.username for u in standby_roster(release)] == [
            "devin",
            "dana",
            "rita",
            "paul",
        ]

    def test_a_release_that_turned_unhealthy_while_deploying_stays_unhealthy_after_it(
        self, cast, release
    ):
        make_deploying(release, cast)
        mark_health(release, Health.UNHEALTHY, by="CI", reason="canary errors")
        for item in release.checklist_items.filter(phase="deployment"):
            tick_checklist_item(item, by=cast.dana)
        finish_deploy(release, by=cast.dana)
        release.refresh_from_db()
        assert release.status == Status.MONITORING
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == "canary errors"


class TestRecommendation:
    def test_it_records_a_visible_recommendation_and_tells_the_decider(self, cast, release):
        make_monitoring(release, cast)
        update_rollback_plan(release, by=cast.dana, decider=cast.dana)
        recommend_rollback(release, by="Greenlight", reason="Error rate ≥ 0.02: 0.08")
        release.refresh_from_db()
        assert release.rollback_recommended
        assert release.rollback_recommendation == "Error rate ≥ 0.02: 0.08"
        note = Notification.objects.get(verb="rollback_recommended")
        assert note.user == cast.dana
        assert "rolls it back in one click" in note.message
        assert "Revert steps:\nRedeploy the previous tag." in note.message
        assert release.events.get(verb="rollback_recommended").actor_label == "Greenlight"

    def test_it_is_no_longer_recommended_once_rolled_back_or_healthy_again(self, cast, release):
        make_monitoring(release, cast)
        other = make_monitoring(make_release(cast, "1.1.0"), cast)
        for r in (release, other):
            mark_health(r, Health.UNHEALTHY, by="Greenlight", reason="errors")
            recommend_rollback(r, by="Greenlight", reason="errors")
        roll_back(release, by=cast.rita, reason="errors")
        mark_health(other, Health.HEALTHY, by=cast.rita, reason="a blip")
        release.refresh_from_db()
        other.refresh_from_db()
        assert not release.rollback_recommended
        assert release.rollback_recommended_at is not None  # kept for the review
        assert not other.rollback_recommended
        assert other.rollback_recommended_at is None

    def test_it_refuses_to_recommend_a_rollback_before_the_deploy(self, cast, release):
        make_approved(release, cast)
        with pytest.raises(Refused, match="while deploying or monitoring"):
            recommend_rollback(release, by="Greenlight", reason="errors")
        assert not Notification.objects.filter(verb="rollback_recommended").exists()


class TestRollback:
    def test_it_records_who_why_and_when(self, cast, release):
        make_monitoring(release, cast)
        roll_back(release, by=cast.rita, reason="p95 latency 2 s")
        release.refresh_from_db()
        assert release.status == Status.ROLLED_BACK
        assert release.rollback_decided_by == cast.rita
        assert release.rollback_reason == "p95 latency 2 s"
        assert release.rollback_automatic is False
        assert release.rolled_back_at is not None

    def test_it_measures_time_to_restore_when_the_rollback_finishes(self, cast, release):
        make_monitoring(release, cast)
        mark_health(release, Health.UNHEALTHY, by="poller", reason="errors")
        roll_back(release, by=cast.rita, reason="errors")
        release.refresh_from_db()
        finished = release.unhealthy_since + dt.timedelta(minutes=12)
        finish_rollback(release, by="CI", at=finished)
        release.refresh_from_db()
        assert release_time_to_restore(release) == dt.timedelta(minutes=12)
        event = release.events.get(verb="rollback_finished")
        assert event.data["time_to_restore_seconds"] == 720
        assert "restored 12 min after the failure" in event.summary
        with pytest.raises(Refused, match="already finished"):
            finish_rollback(release, by="CI")

    def test_it_refuses_to_finish_a_rollback_that_never_started(self, cast, release):
        make_monitoring(release, cast)
        with pytest.raises(Refused, match="Only a rolled-back release finishes a rollback"):
            finish_rollback(release, by=cast.rita)

    def test_it_carries_the_scope_into_a_new_release_in_one_action(self, cast, release):
        add_scope_item(release, by=cast.rita, title="Dropped idea")
        dropped = release.scope_items.get(title="Dropped idea")
        set_scope_item_state(dropped, "deferred", by=cast.rita)
        make_deploying(release, cast)
        roll_back(release, by=cast.rita, reason="errors")
        new = carry_scope_forward(release, by=cast.rita, version="1.0.1")
        assert new.status == Status.PLANNING
        assert list(new.scope_items.values_list("title", flat=True)) == ["Feature 1"]
        assert new.checklist_items.exists()
        release.refresh_from_db()
        assert release.carried_into == new
        assert new.events.filter(verb="scope_carried_in").exists()
        with pytest.raises(Refused, match="already carried into"):
            carry_scope_forward(release, by=cast.rita, version="1.0.2")


class TestReview:
    def test_it_adds_and_completes_actions_with_owners_and_due_dates(self, cast, release):
        make_deploying(release, cast)
        roll_back(release, by=cast.rita, reason="errors")
        action = add_review_action(
            release,
            by=cast.rita,
            description="Add a canary stage",
            owner=cast.dana,
            due_date=dt.date(2026, 12, 15),
        )
        assert Notification.objects.filter(user=cast.dana, verb="review_action").exists()
        complete_review_action(action, by=cast.dana)
        action.refresh_from_db()
        assert action.done_at is not None
        verbs = list(release.events.values_list("verb", flat=True))
        assert "review_action_added" in verbs
        assert "review_action_done" in verbs
        with pytest.raises(Refused):
            complete_review_action(action, by=cast.dana)

    def test_it_refuses_an_action_owner_outside_the_project(self, cast, release):
        make_deploying(release, cast)
        roll_back(release, by=cast.rita, reason="errors")
        with pytest.raises(ValidationError):
            add_review_action(release, by=cast.rita, description="x", owner=cast.otto)

    def test_it_gathers_the_facts_beside_the_review(self, cast, release):
        let_release_managers_override(cast, "sign_offs")
        lock_scope(release, by=cast.rita)
        request = request_scope_change(
            release, by=cast.devin, action="add", reason="ask", proposal={"title": "Late one"}
        )
        approve_change_request(request, by=cast.paul, as_role="product")
        approve_change_request(request, by=cast.rita, as_role="release_manager")
        record_check_result(release.checks.get(), status="failing", source="api")
        record_decision(release, by=cast.rita, outcome="go", override_reason="Hotfix of a hotfix")
        start_deploy(release, by=cast.dana)
        roll_back(release, by=cast.rita, reason="errors")
        release.refresh_from_db()
        facts = review_facts(release)
        assert [i.title for i in facts["late_scope"]] == ["Late one"]
        assert [r.status for r in facts["failed_checks"]] == ["failing"]
        assert [e.verb for e in facts["overrides"]] == ["decision_override"]
        labels = [p.label for p in facts["phases"]]
        assert labels[:4] == [
            "Planning",
            "Frozen until approval",
            "Approved until deploy",
            "Deploying",
        ]
        assert facts["phases"][0].duration is not None
