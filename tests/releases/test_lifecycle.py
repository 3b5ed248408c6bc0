"""Every allowed transition, and every refused one with the words a person reads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.services.decisions import record_decision
from approvals.services.deploy import start_deploy
from lib.errors import Refused
from releases.models import FreezeWindow, Health, Phase, Release, ScopeItem, Status
from releases.services.lifecycle import (
    cancel_release,
    complete_release,
    finish_deploy,
    lock_scope,
    mark_health,
)
from releases.services.rollback import roll_back
from releases.services.scope import add_scope_item, request_scope_change
from tests.builders import (
    make_approved,
    make_deploying,
    make_monitoring,
    make_ready,
    make_release,
)

pytestmark = pytest.mark.django_db


def status_of(release: Release) -> str:
    return Release.objects.get(pk=release.pk).status


class TestAllowed:
    def test_it_locks_scope_from_planning(self, cast, release):
        lock_scope(release, by=cast.rita)
        release.refresh_from_db()
        assert release.status == Status.FROZEN
        assert release.frozen_at is not None

    def test_it_approves_a_ready_frozen_release_with_a_go_decision(self, cast, release):
        make_ready(release, cast)
        record_decision(release, by=cast.rita, outcome="go")
        release.refresh_from_db()
        assert release.status == Status.APPROVED
        assert release.approved_at is not None
        assert release.override_used is False

    def test_it_keeps_a_frozen_release_frozen_on_no_go(self, cast, release):
        make_ready(release, cast)
        record_decision(release, by=cast.rita, outcome="no_go", notes="Load test red")
        assert status_of(release) == Status.FROZEN

    def test_it_returns_an_approved_release_to_frozen_on_no_go(self, cast, release):
        make_approved(release, cast)
        record_decision(release, by=cast.rita, outcome="no_go", notes="Pager storm")
        assert status_of(release) == Status.FROZEN

    def test_it_starts_the_deploy_of_an_approved_release(self, cast, release):
        make_approved(release, cast)
        start_deploy(release, by=cast.dana)
        release.refresh_from_db()
        assert release.status == Status.DEPLOYING
        assert release.deploy_started_at is not None

    def test_it_moves_to_monitoring_when_the_deploy_is_done(self, cast, release):
        # About the walk itself: through the services.
        release = make_monitoring(release, cast, lifecycle=True)
        assert release.status == Status.MONITORING
        # The deploy being done says nothing of its health: that waits for a health result.
        assert release.health == Health.UNKNOWN
        window = cast.project.monitoring_window("standard")
        assert release.monitoring_until - release.deploy_finished_at == pytest.approx(
            window, abs=dt.timedelta(seconds=2)
        )

    def test_it_releases_after_a_healthy_monitoring_window(self, cast, release):
        make_monitoring(release, cast)
        Release.objects.filter(pk=release.pk).update(
            monitoring_until=timezone.now() - dt.timedelta(seconds=1)
        )
        complete_release(release, by=cast.rita)
        release.refresh_from_db()
        assert release.status == Status.RELEASED
        assert release.released_at is not None

    @pytest.mark.parametrize("stage", ["deploying", "monitoring"])
    def test_it_rolls_back_from_deploying_or_monitoring(self, cast, release, stage):
        {"deploying": make_deploying, "monitoring": make_monitoring}[stage](release, cast)
        roll_back(release, by=cast.rita, reason="Error rate 4 %")
        release.refresh_from_db()
        assert release.status == Status.ROLLED_BACK
        assert release.rolled_back_at is not None

    @pytest.mark.parametrize("stage", ["planning", "frozen", "approved"])
    def test_it_cancels_before_the_deploy(self, cast, release, stage):
        if stage == "frozen":
            lock_scope(release, by=cast.rita)
        elif stage == "approved":
            make_approved(release, cast)
        cancel_release(release, by=cast.rita, reason="Merged into 2.0")
        release.refresh_from_db()
        assert release.status == Status.CANCELLED
        assert release.cancelled_at is not None


class TestRefused:
    def test_it_refuses_to_lock_an_empty_scope(self, cast):
        release = make_release(cast, scope=0)
        with pytest.raises(Refused, match=r"it is empty\. Add at least one scope item first"):
            lock_scope(release, by=cast.rita)
        assert status_of(release) == Status.PLANNING

    def test_it_refuses_to_lock_scope_twice(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="Cannot lock the scope: the release is scope frozen"):
            lock_scope(release, by=cast.rita)

    def test_it_refuses_a_go_on_a_planning_release(self, cast, release):
        with pytest.raises(
            Refused, match="A Go is recorded on a frozen release; this one is planning"
        ):
            record_decision(release, by=cast.rita, outcome="go")

    def test_it_refuses_a_go_when_not_ready_and_names_the_blockers(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused) as refused:
            record_decision(release, by=cast.rita, outcome="go")
        message = str(refused.value)
        assert message.startswith("Not ready: 2 required checklist items are not ticked: ")
        assert "Critical flows pass, Migrations reviewed" in message
        assert "A Go now needs an override with a reason." in message
        assert status_of(release) == Status.FROZEN

    def test_it_refuses_to_start_the_deploy_before_approval(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="Cannot start the deploy: the release is scope frozen"):
            start_deploy(release, by=cast.dana)

    def test_it_refuses_to_start_the_deploy_inside_a_freeze_window(self, cast, release):
        make_approved(release, cast)
        now = timezone.now()
        FreezeWindow.objects.create(
            project=cast.project,
            reason="Black Friday",
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=1),
        )
        with pytest.raises(Refused, match=r"a freeze window is in force \(Black Friday"):
            start_deploy(release, by=cast.dana)
        assert status_of(release) == Status.APPROVED

    def test_it_starts_inside_a_freeze_window_with_an_override_and_records_it(self, cast, release):
        make_approved(release, cast)
        now = timezone.now()
        FreezeWindow.objects.create(
            project=cast.project,
            reason="Black Friday",
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=1),
        )
        start_deploy(release, by=cast.rita, override_reason="Security fix")
        assert status_of(release) == Status.DEPLOYING
        event = release.events.get(verb="deploy_started")
        assert event.data["override_reason"] == "Security fix"
        assert "override" in event.summary

    def test_it_refuses_to_start_the_deploy_before_the_planned_window(self, cast, release):
        make_approved(release, cast)
        Release.objects.filter(pk=release.pk).update(
            deploy_window_start=timezone.now() + dt.timedelta(days=3)
        )
        with pytest.raises(Refused, match="the deploy window opens at"):
            start_deploy(release, by=cast.dana)

    def test_it_refuses_deploy_done_with_unticked_deployment_items(self, cast, release):
        make_deploying(release, cast)
        with pytest.raises(
            Refused,
            match="1 required deployment checklist item is not ticked: Smoke test in production",
        ):
            finish_deploy(release, by=cast.dana)
        assert status_of(release) == Status.DEPLOYING

    def test_it_refuses_to_release_before_the_window_ends(self, cast, release):
        make_monitoring(release, cast)
        with pytest.raises(Refused, match=r"the monitoring window has .* left"):
            complete_release(release, by=cast.rita)

    def test_it_refuses_to_release_an_unhealthy_release(self, cast, release):
        make_monitoring(release, cast)
        mark_health(release, Health.UNHEALTHY, by="poller", reason="error rate 5 %")
        Release.objects.filter(pk=release.pk).update(monitoring_until=timezone.now())
        with pytest.raises(Refused, match="it is unhealthy"):
            complete_release(release, by=cast.rita)

    def test_it_refuses_to_roll_back_a_release_that_was_never_deployed(self, cast, release):
        make_approved(release, cast)
        with pytest.raises(Refused, match="Cannot roll back: the release is approved"):
            roll_back(release, by=cast.rita, reason="Nervous")

    def test_it_refuses_to_cancel_a_deploying_release(self, cast, release):
        make_deploying(release, cast)
        with pytest.raises(Refused, match="roll it back instead"):
            cancel_release(release, by=cast.rita, reason="Oops")

    @pytest.mark.parametrize("final", ["released", "rolled_back", "cancelled"])
    def test_it_refuses_every_transition_from_a_finished_release(self, cast, release, final):
        Release.objects.filter(pk=release.pk).update(status=final)
        release.refresh_from_db()
        label = release.get_status_display().lower()
        for call in (
            lambda: lock_scope(release, by=cast.rita),
            lambda: start_deploy(release, by=cast.rita),
            lambda: finish_deploy(release, by=cast.rita),
            lambda: complete_release(release, by=cast.rita),
            lambda: roll_back(release, by=cast.rita, reason="x"),
            lambda: cancel_release(release, by=cast.rita, reason="x"),
        ):
            with pytest.raises(Refused, match=f"the release is {label}"):
                call()
        assert status_of(release) == final

    def test_it_requires_a_reason_to_cancel(self, cast, release):
        with pytest.raises(ValidationError):
            cancel_release(release, by=cast.rita, reason="  ")
        assert status_of(release) == Status.PLANNING

    def test_it_refuses_direct_scope_edits_after_the_lock(self, cast, release):
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="The scope is locked: request a change instead"):
            add_scope_item(release, by=cast.rita, title="Sneaky")
        assert not ScopeItem.objects.filter(title="Sneaky").exists()

    def test_it_refuses_to_lock_scope_with_open_change_requests(self, cast, release):
        # Change requests only exist after a lock; simulate a stale one left open.
        lock_scope(release, by=cast.rita)
        request_scope_change(
            release, by=cast.devin, action="add", reason="Needed", proposal={"title": "X"}
        )
        Release.objects.filter(pk=release.pk).update(status=Status.PLANNING)
        with pytest.raises(
            Refused, match=r"Cannot lock the scope: 1 change request is still open\."
        ):
            lock_scope(release, by=cast.rita)


def test_it_marks_the_phase_of_deployment_items(cast, release):
    phases = set(release.checklist_items.values_list("phase", flat=True))
    assert phases == {Phase.READINESS, Phase.DEPLOYMENT}
