"""The go/no-go poll, the decision, the override and the frozen snapshot."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError

from approvals.models import Decision
from approvals.services.decisions import open_poll, record_decision
from approvals.services.deploy import assign_role
from approvals.services.sign_offs import record_sign_off
from lib.errors import NotAllowed, Refused
from monitoring.services.results import record_check_result
from releases.models import Notification, Release, Status
from releases.services.checklists import untick_checklist_item
from releases.services.lifecycle import lock_scope
from releases.services.projects import set_project_roles
from releases.services.releases import update_release
from releases.services.roles import unassign_role
from releases.services.scope import approve_change_request, request_scope_change
from tests.builders import (
    let_release_managers_override,
    make_approved,
    make_ready,
    make_release,
    make_user,
)

pytestmark = pytest.mark.django_db


def status_of(release: Release) -> str:
    return Release.objects.get(pk=release.pk).status


class TestPoll:
    def test_it_asks_every_assignee_of_every_required_role(self, cast):
        second_qa = make_user("quentin")
        set_project_roles(cast.project, second_qa, ["qa"], by=cast.rita)
        release = make_release(cast, "2.0.0", kind="hotfix")
        assign_role(release, second_qa, "devops", by=cast.rita)
        lock_scope(release, by=cast.rita)

        open_poll(release, by=cast.rita)

        asked = Notification.objects.filter(release=release, verb="sign_off_requested")
        # A hotfix needs Dev and DevOps: QA, Product and viewers are not asked.
        assert sorted(asked.values_list("user__username", flat=True)) == [
            "dana",
            "devin",
            "quentin",
        ]
        release.refresh_from_db()
        assert release.poll_opened_at is not None
        event = release.events.get(verb="poll_opened")
        assert event.summary == "Go/no-go poll opened for Developer, DevOps"

    def test_it_asks_both_qa_leads_on_a_major_release(self, cast):
        second_qa = make_user("quentin")
        set_project_roles(cast.project, second_qa, ["qa"], by=cast.rita)
        release = make_release(cast, "2.0.0", kind="major")
        lock_scope(release, by=cast.rita)
        open_poll(release, by=cast.rita)
        asked = set(
            Notification.objects.filter(verb="sign_off_requested").values_list(
                "user__username", flat=True
            )
        )
        assert asked == {"rita", "paul", "quinn", "quentin", "dana", "devin"}

    def test_it_says_when_a_required_role_has_nobody_to_ask(self, cast, release):
        unassign_role(release, cast.paul, "product", by=cast.rita)
        lock_scope(release, by=cast.rita)
        open_poll(release, by=cast.rita)
        assert "nobody is assigned as Product" in release.events.get(verb="poll_opened").summary

    def test_someone_assigned_a_required_role_while_it_is_open_is_asked_too(self, cast):
        release = make_release(cast, "2.0.0", kind="hotfix")
        unassign_role(release, cast.dana, "devops", by=cast.rita)
        assign_role(release, cast.quinn, "dev", by=cast.rita)
        lock_scope(release, by=cast.rita)
        open_poll(release, by=cast.rita)

        def asked() -> set[str]:
            return set(
                Notification.objects.filter(release=release, verb="sign_off_requested").values_list(
                    "user__username", flat=True
                )
            )

        assert asked() == {"devin", "quinn"}
        assign_role(release, cast.dana, "devops", by=cast.rita)
        assert asked() == {"devin", "quinn", "dana"}
        # A hotfix needs no Product sign-off: joining as Product asks nothing.
        assign_role(release, cast.paul, "product", by=cast.rita)
        assert asked() == {"devin", "quinn", "dana"}

    def test_assigning_before_the_poll_opens_asks_nobody_yet(self, cast, release):
        unassign_role(release, cast.dana, "devops", by=cast.rita)
        assign_role(release, cast.dana, "devops", by=cast.rita)
        assert not Notification.objects.filter(verb="sign_off_requested").exists()

    def test_it_opens_the_poll_once_on_a_frozen_release_only(self, cast, release):
        with pytest.raises(Refused, match="whose scope is locked; it is planning"):
            open_poll(release, by=cast.rita)
        lock_scope(release, by=cast.rita)
        open_poll(release, by=cast.rita)
        with pytest.raises(Refused, match="already open"):
            open_poll(release, by=cast.rita)
        assert release.events.filter(verb="poll_opened").count() == 1

    def test_it_lets_only_the_decider_open_the_poll(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(NotAllowed, match="Only the release manager opens"):
            open_poll(release, by=cast.quinn)
        assert not Notification.objects.filter(verb="sign_off_requested").exists()


class TestDecision:
    def test_it_records_go_on_a_ready_release_without_an_override(self, cast, release):
        make_ready(release, cast)
        decision = record_decision(release, by=cast.rita, outcome="go")
        assert (decision.outcome, decision.overridden, decision.decided_by) == (
            "go",
            False,
            cast.rita,
        )
        assert status_of(release) == Status.APPROVED
        told = Notification.objects.filter(verb="decision").values_list("user__username", flat=True)
        assert set(told) == {"rita", "paul", "quinn", "dana", "devin", "vic"}

    @pytest.mark.parametrize("who", ["quinn", "vic", "otto"])
    def test_it_lets_only_the_decider_record_it(self, cast, release, who):
        make_ready(release, cast)
        with pytest.raises(NotAllowed, match="Only the release manager records the go/no-go"):
            record_decision(release, by=getattr(cast, who), outcome="go")
        assert not Decision.objects.exists()

    def test_it_refuses_a_go_on_a_release_that_is_not_ready(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="A Go now needs an override with a reason"):
            record_decision(release, by=cast.rita, outcome="go", override_reason="  ")
        assert not Decision.objects.exists()
        assert status_of(release) == Status.FROZEN

    def test_it_records_an_override_and_flags_the_release_for_good(self, cast, release):
        let_release_managers_override(cast, "sign_offs")
        lock_scope(release, by=cast.rita)
        decision = record_decision(
            release, by=cast.rita, outcome="go", override_reason="CEO demo tomorrow"
        )
        assert decision.overridden
        assert decision.override_reason == "CEO demo tomorrow"
        release.refresh_from_db()
        assert release.status == Status.APPROVED
        assert release.override_used
        event = release.events.get(verb="decision_override")
        assert "override: CEO demo tomorrow" in event.summary
        assert "Check “CI green” is not passing: pending" in event.data["blockers"]
        note = Notification.objects.get(user=cast.paul, verb="override_used")
        assert "with an override over" in note.message
        assert "CEO demo tomorrow" in note.message

        # The commit changes, the release goes back to frozen, is made ready and approved
        # properly: the earlier override stays visible.
        update_release(release, by=cast.dana, commit_sha="b" * 40)
        make_ready(release, cast)
        record_decision(release, by=cast.rita, outcome="go")
        release.refresh_from_db()
        assert release.override_used
        assert release.decisions.filter(overridden=True).count() == 1

    def test_it_ignores_an_override_reason_when_the_release_is_ready(self, cast, release):
        make_ready(release, cast)
        decision = record_decision(
            release, by=cast.rita, outcome="go", override_reason="just in case"
        )
        assert not decision.overridden
        assert decision.override_reason == ""
        release.refresh_from_db()
        assert not release.override_used

    def test_it_turns_any_no_go_sign_off_into_a_blocker_with_its_reason(self, cast, release):
        make_ready(release, cast)
        record_sign_off(
            release, by=cast.dana, role="devops", decision="no_go", comment="Disk 95 % full"
        )
        with pytest.raises(Refused, match="DevOps: dana said No-go – Disk 95 % full"):
            record_decision(release, by=cast.rita, outcome="go")

    def test_it_lists_the_reasons_of_a_no_go_and_returns_to_frozen(self, cast, release):
        make_approved(release, cast)
        decision = record_decision(release, by=cast.rita, outcome="no_go", notes="Ops not ready")
        assert decision.notes == "Ops not ready"
        assert status_of(release) == Status.FROZEN
        back = release.events.get(verb="returned_to_frozen")
        assert back.summary == "Back to frozen after the No-go: Ops not ready"
        # A No-go sign-off on the frozen release is one more reason for the next No-go.
        record_sign_off(
            release, by=cast.dana, role="devops", decision="no_go", comment="Disk 95 % full"
        )
        again = record_decision(release, by=cast.rita, outcome="no_go", notes="Still")
        assert again.notes == "Still\nDevOps: dana said No-go – Disk 95 % full"

    def test_it_takes_the_no_go_reasons_from_the_sign_offs_when_notes_are_empty(
        self, cast, release
    ):
        make_ready(release, cast)
        record_sign_off(
            release, by=cast.paul, role="product", decision="no_go", comment="Legal says wait"
        )
        decision = record_decision(release, by=cast.rita, outcome="no_go")
        assert decision.notes == "Product: paul said No-go – Legal says wait"

    def test_it_requires_a_reason_for_a_no_go_nobody_signed(self, cast, release):
        make_ready(release, cast)
        with pytest.raises(ValidationError) as error:
            record_decision(release, by=cast.rita, outcome="no_go", notes=" ")
        assert error.value.message_dict == {"notes": ["List the reasons for the No-go."]}
        assert not Decision.objects.exists()


class TestSnapshot:
    def test_it_freezes_the_evidence_the_decision_rested_on(self, cast, release):
        make_ready(release, cast)
        record_sign_off(release, by=cast.quinn, role="qa", decision="go", comment="All green")
        decision = record_decision(release, by=cast.rita, outcome="go")
        snapshot = decision.snapshot
        assert snapshot["release"]["commit_sha"] == "a" * 40
        assert snapshot["readiness"]["ready"] is True
        assert snapshot["required_roles"] == {"dev": 1, "qa": 1, "devops": 1, "product": 1}
        quinn = next(s for s in snapshot["sign_offs"] if s["user"] == "quinn")
        assert (quinn["role"], quinn["decision"], quinn["comment"]) == ("qa", "go", "All green")
        assert quinn["given_at"]
        assert {i["title"]: i["ticked"] for i in snapshot["checklist"]}["Critical flows pass"]
        assert snapshot["checks"][0]["status"] == "passing"
        assert snapshot["scope"][0]["title"] == "Feature 1"

    def test_it_never_changes_the_snapshot_or_its_export_when_everything_changes(
        self, cast, release, client
    ):
        make_ready(release, cast)
        decision = record_decision(release, by=cast.rita, outcome="go")
        recorded = copy.deepcopy(decision.snapshot)
        client.force_login(cast.vic)
        exported = client.get(f"/decisions/{decision.pk}/?format=json").json()
        assert exported == recorded

        # Change everything the snapshot describes.
        request = request_scope_change(
            release, by=cast.devin, action="add", reason="Ask", proposal={"title": "Late item"}
        )
        approve_change_request(request, by=cast.paul, as_role="product")
        approve_change_request(request, by=cast.rita, as_role="release_manager")
        update_release(release, by=cast.dana, commit_sha="c" * 40, environment="eu")
        untick_checklist_item(
            release.checklist_items.get(title="Critical flows pass"), by=cast.quinn
        )
        record_check_result(release.checks.get(), status="failing", value="failure", source="api")
        record_sign_off(release, by=cast.quinn, role="qa", decision="no_go", comment="Now broken")
        record_decision(release, by=cast.rita, outcome="no_go", notes="Broken")
        cast.quinn.username = "quinn-renamed"
        cast.quinn.save()

        decision.refresh_from_db()
        assert decision.snapshot == recorded
        assert client.get(f"/decisions/{decision.pk}/?format=json").json() == recorded
        later = release.decisions.exclude(pk=decision.pk).get().snapshot
        assert later["release"]["commit_sha"] == "c" * 40
        assert {s["title"]: s["added_after_freeze"] for s in later["scope"]} == {
            "Feature 1": False,
            "Late item": True,
        }
        assert json.loads(json.dumps(recorded)) == recorded

    def test_it_refuses_to_rewrite_a_recorded_snapshot(self, cast, release):
        make_ready(release, cast)
        decision = record_decision(release, by=cast.rita, outcome="go")
        decision.snapshot = {"forged": True}
        with pytest.raises(TypeError, match="frozen once recorded"):
            decision.save()
        with pytest.raises(TypeError, match="frozen once recorded"):
            Decision.objects.filter(pk=decision.pk).update(snapshot={"forged": True})
        decision.refresh_from_db()
        assert "forged" not in decision.snapshot
