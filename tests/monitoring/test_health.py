"""The post-release health window: rollback triggers, breaches, recommendations, and the end of
the window failing closed. Results are pushed (as CI or a monitor would) through the same
service the poller writes through; the real poller is in test_health_end_to_end.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from monitoring import tasks
from monitoring.models import Check, RollbackTrigger
from monitoring.services import health
from monitoring.services.checks import save_release_check
from monitoring.services.results import record_check_result
from releases.models import Health, Notification, Release, ReleaseEvent, Status
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import finish_deploy, mark_health
from releases.services.rollback import roll_back, update_rollback_plan
from tests.builders import known, make_approved, make_deploying, make_monitoring, make_release

pytestmark = pytest.mark.django_db

HOOK = "https://ci.example.com/hooks/rollback"


def health_check(release, cast, name="Checkout error rate", *, required=True, hold=0) -> Check:
    """A post-release check of the error ratio: passes below 2 %."""
    return save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name=name,
        phase="post_release",
        required=required,
        comparator="lt",
        threshold=0.02,
        hold_seconds=hold,
    )


def report(check: Check, status: str, value: str = "") -> Check:
    return record_check_result(
        check, status=status, value=value, source="api", by="CI token monitor"
    )


def fresh(release: Release) -> Release:
    return Release.objects.get(pk=release.pk)


def notified(verb: str) -> set[str]:
    return set(Notification.objects.filter(verb=verb).values_list("user__username", flat=True))


@pytest.fixture
def watched(cast, release) -> Release:
    """In monitoring, the rollback plan naming paul (Product) as decider."""
    make_monitoring(release, cast)
    update_rollback_plan(release, by=cast.rita, decider=cast.paul)
    return release


class TestTriggers:
    def test_it_binds_a_trigger_to_a_post_release_check_and_describes_its_condition(
        self, cast, watched
    ):
        check = health_check(watched, cast, hold=300)
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        assert trigger.release == watched
        assert trigger.description == "Checkout error rate ≥ 0.02 for 5 min"
        event = watched.events.get(verb="rollback_trigger_added")
        assert event.actor == cast.dana
        assert event.summary == (
            "Rollback trigger added: Checkout error rate ≥ 0.02 for 5 min → "
            "Recommend a rollback (a person decides)"
        )

    def test_it_keeps_a_description_given_in_words(self, cast, watched):
        check = health_check(watched, cast)
        trigger = health.add_rollback_trigger(
            watched,
            by=cast.rita,
            check=check,
            mode="recommend",
            description="  error rate > 2 % for 5 min ",
        )
        assert trigger.description == "error rate > 2 % for 5 min"

    def test_it_refuses_a_pre_release_check_or_a_check_of_another_release(self, cast, watched):
        other = make_release(cast, "2.0.0")
        candidates = [
            watched.checks.get(phase="pre_release"),
            health_check(other, cast),
            "not a check",
        ]
        for candidate in candidates:
            with pytest.raises(ValidationError) as error:
                health.add_rollback_trigger(
                    watched, by=cast.dana, check=candidate, mode="recommend"
                )
            assert error.value.message_dict == {
                "check": ["Choose a post-release check of this release."]
            }
        assert not RollbackTrigger.objects.exists()

    def test_it_refuses_an_unknown_mode(self, cast, watched):
        check = health_check(watched, cast)
        with pytest.raises(ValidationError) as error:
            health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="panic")
        assert error.value.message_dict == {"mode": ["Choose recommend or automatic."]}

    def test_an_automatic_trigger_needs_the_rollback_webhook(self, cast, watched):
        check = health_check(watched, cast)
        with pytest.raises(ValidationError) as error:
            health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="automatic")
        assert "set its URL first" in error.value.message_dict["mode"][0]
        update_rollback_plan(watched, by=cast.dana, rollback_webhook_url=HOOK)
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="automatic")
        assert trigger.mode == "automatic"

    def test_one_check_has_one_trigger(self, cast, watched):
        check = health_check(watched, cast)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        with pytest.raises(ValidationError) as error:
            health.add_rollback_trigger(watched, by=cast.rita, check=check, mode="recommend")
        assert "already has a trigger" in error.value.message_dict["check"][0]
        assert RollbackTrigger.objects.count() == 1

    @pytest.mark.parametrize("who", ["devin", "quinn", "paul", "vic", "otto"])
    def test_only_the_release_manager_and_devops_change_triggers(self, cast, watched, who):
        check = health_check(watched, cast)
        with pytest.raises(NotAllowed):
            health.add_rollback_trigger(
                watched, by=getattr(cast, who), check=check, mode="recommend"
            )
        trigger = health.add_rollback_trigger(watched, by=cast.rita, check=check, mode="recommend")
        with pytest.raises(NotAllowed):
            health.update_rollback_trigger(trigger, by=getattr(cast, who), description="x")
        with pytest.raises(NotAllowed):
            health.remove_rollback_trigger(trigger, by=getattr(cast, who))
        assert RollbackTrigger.objects.get().description == "Checkout error rate ≥ 0.02"

    def test_it_changes_and_removes_a_trigger_on_the_record(self, cast, watched):
        update_rollback_plan(watched, by=cast.dana, rollback_webhook_url=HOOK)
        check = health_check(watched, cast)
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        health.update_rollback_trigger(
            trigger, by=cast.rita, mode="automatic", description="errors > 2 %"
        )
        trigger.refresh_from_db()
        assert (trigger.mode, trigger.description) == ("automatic", "errors > 2 %")
        with pytest.raises(ValidationError):
            health.update_rollback_trigger(trigger, by=cast.rita, description="  ")
        health.remove_rollback_trigger(trigger, by=cast.dana)
        assert not RollbackTrigger.objects.exists()
        changed = watched.events.get(verb="rollback_trigger_changed")
        assert changed.before == {"mode": "recommend", "description": "Checkout error rate ≥ 0.02"}
        assert changed.after == {"mode": "automatic", "description": "errors > 2 %"}
        assert watched.events.filter(verb="rollback_trigger_removed").exists()

    def test_the_rollback_plan_of_a_finished_release_is_closed(self, cast, watched):
        check = health_check(watched, cast)
        latency = health_check(watched, cast, "Latency")
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        roll_back(watched, by=cast.rita, reason="errors")
        with pytest.raises(Refused, match="its rollback plan is part of the record now"):
            health.add_rollback_trigger(watched, by=cast.rita, check=latency, mode="recommend")
        with pytest.raises(Refused, match="its rollback plan is part of the record now"):
            health.update_rollback_trigger(trigger, by=cast.rita, mode="recommend", description="y")
        with pytest.raises(Refused, match="its rollback plan is part of the record now"):
            health.remove_rollback_trigger(trigger, by=cast.rita)
        assert RollbackTrigger.objects.get().description == "Checkout error rate ≥ 0.02"


class TestBreach:
    def test_a_failing_required_check_marks_the_release_unhealthy_and_tells_everyone(
        self, cast, watched
    ):
        check = health_check(watched, cast)
        report(check, "passing", "0.004")
        report(check, "failing", "0.08")
        release = fresh(watched)
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == "“Checkout error rate” failing (0.08)"
        assert release.unhealthy_since is not None
        # Everyone on the release, the decider among them, with the revert steps.
        assert notified("unhealthy") == {"rita", "paul", "quinn", "dana", "devin", "vic"}
        note = Notification.objects.get(verb="unhealthy", user=cast.paul)
        assert "UNHEALTHY: “Checkout error rate” failing (0.08)" in note.message
        assert "Revert steps:\nRedeploy the previous tag." in note.message
        assert release.status == Status.MONITORING  # nothing recommends more than that here
        assert not release.rollback_recommended

    def test_a_failing_advisory_check_without_a_trigger_only_informs(self, cast, watched):
        check = health_check(watched, cast, required=False)
        report(check, "failing", "0.08")
        health.watch_health(now=timezone.now() + dt.timedelta(minutes=10))
        assert fresh(watched).health == Health.UNKNOWN
        assert not Notification.objects.filter(verb="unhealthy").exists()

    def test_an_advisory_check_bound_to_a_trigger_decides(self, cast, watched):
        check = health_check(watched, cast, required=False)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "0.08")
        assert fresh(watched).health == Health.UNHEALTHY

    def test_a_breach_while_deploying_counts(self, cast, release):
        make_deploying(release, cast)
        check = health_check(release, cast)
        report(check, "failing", "0.08")
        assert fresh(release).health == Health.UNHEALTHY

    def test_a_failing_check_before_the_deploy_is_no_breach(self, cast, release):
        make_approved(release, cast)
        check = health_check(release, cast)
        health.add_rollback_trigger(release, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "0.08")
        health.watch_health()
        release = fresh(release)
        assert release.health == Health.UNKNOWN
        assert release.rollback_recommended_at is None
        assert RollbackTrigger.objects.get().fired_at is None

    def test_errors_and_pending_results_are_no_breach(self, cast, watched):
        check = health_check(watched, cast)
        report(check, "error", "unavailable")
        report(check, "needs_judgement", "no answer")
        health.watch_health(now=timezone.now() + dt.timedelta(minutes=10))
        assert fresh(watched).health == Health.UNKNOWN  # no breach, and no pass either

    def test_a_hold_time_waits_before_the_breach(self, cast, watched):
        check = health_check(watched, cast, hold=300)
        report(check, "failing", "0.08")
        failing_since = known(Check.objects.get(pk=check.pk).last_changed_at)
        assert fresh(watched).health == Health.UNKNOWN

        health.act_on_held_breaches(now=failing_since + dt.timedelta(seconds=299))
        assert fresh(watched).health == Health.UNKNOWN

        health.act_on_held_breaches(now=failing_since + dt.timedelta(seconds=300))
        release = fresh(watched)
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == "“Checkout error rate” failing (0.08) for 5 min"

    def test_a_check_that_recovers_within_its_hold_time_is_no_breach(self, cast, watched):
        check = health_check(watched, cast, hold=300)
        report(check, "failing", "0.08")
        report(check, "passing", "0.01")
        health.act_on_held_breaches(now=timezone.now() + dt.timedelta(minutes=10))
        assert fresh(watched).health == Health.HEALTHY

    def test_the_watch_reads_few_queries_however_many_releases_are_watched(
        self, cast, django_assert_max_num_queries
    ):
        for n in range(8):
            release = make_monitoring(make_release(cast, f"3.{n}.0"), cast)
            report(health_check(release, cast, required=n % 2 == 0), "passing", "0.001")
        # Held breaches, releases whose checks passed without a status change, windows over.
        with django_assert_max_num_queries(3):
            report_ = health.watch_health()
        assert (report_.breaches, report_.released, report_.held) == (0, 0, 0)


class TestRecommendedRollback:
    def test_a_recommend_trigger_puts_the_recommendation_on_the_release_and_tells_the_decider(
        self, cast, watched
    ):
        check = health_check(watched, cast)
        health.add_rollback_trigger(
            watched, by=cast.dana, check=check, mode="recommend", description="errors > 2 %"
        )
        report(check, "failing", "0.08")
        release = fresh(watched)
        assert release.health == Health.UNHEALTHY
        assert release.rollback_recommended
        assert release.rollback_recommendation == (
            "errors > 2 %: “Checkout error rate” failing (0.08)"
        )
        assert release.status == Status.MONITORING  # a person makes the call
        assert notified("rollback_recommended") == {"paul"}
        event = release.events.get(verb="rollback_recommended")
        assert event.actor_label == "Greenlight (trigger “errors > 2 %”)"

    def test_one_breach_recommends_once(self, cast, watched):
        check = health_check(watched, cast)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "0.08")
        report(check, "failing", "0.09")
        health.watch_health(now=timezone.now() + dt.timedelta(minutes=1))
        assert Notification.objects.filter(verb="rollback_recommended").count() == 1
        assert Notification.objects.filter(verb="unhealthy", user=cast.paul).count() == 1

    def test_a_new_breach_after_recovering_recommends_again(self, cast, watched):
        check = health_check(watched, cast)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "0.08")
        report(check, "passing", "0.01")
        health.restore_health(watched, by=cast.paul, reason="Cache warmed up; errors gone")
        release = fresh(watched)
        assert (release.health, release.rollback_recommended) == (Health.HEALTHY, False)

        report(check, "failing", "0.05")
        release = fresh(watched)
        assert (release.health, release.rollback_recommended) == (Health.UNHEALTHY, True)
        assert Notification.objects.filter(verb="rollback_recommended").count() == 2

    def test_the_decider_rolls_back_on_the_recommendation(self, cast, watched):
        check = health_check(watched, cast)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "0.08")
        roll_back(watched, by=cast.paul, reason=fresh(watched).rollback_recommendation)
        release = fresh(watched)
        assert release.status == Status.ROLLED_BACK
        assert release.rollback_decided_by == cast.paul
        assert not release.rollback_automatic
        assert not release.rollback_recommended


class TestRestoringHealth:
    def test_it_refuses_while_a_deciding_check_still_fails(self, cast, watched):
        check = health_check(watched, cast)
        report(check, "failing", "0.08")
        with pytest.raises(Refused, match="“Checkout error rate” is still failing"):
            health.restore_health(watched, by=cast.rita, reason="looks fine to me")
        assert fresh(watched).health == Health.UNHEALTHY

    def test_it_needs_a_reason_and_the_right_person(self, cast, watched):
        mark_health(watched, Health.UNHEALTHY, by="CI", reason="deploy step failed")
        with pytest.raises(ValidationError):
            health.restore_health(watched, by=cast.rita, reason=" ")
        with pytest.raises(NotAllowed):
            health.restore_health(watched, by=cast.devin, reason="fine")
        health.restore_health(watched, by=cast.dana, reason="the step was retried and passed")
        release = fresh(watched)
        assert release.health == Health.HEALTHY
        assert known(release.events.filter(verb="health_changed").first()).actor == cast.dana

    def test_a_release_that_is_not_unhealthy_has_nothing_to_restore(self, cast, watched):
        with pytest.raises(Refused, match="not unhealthy"):
            health.restore_health(watched, by=cast.rita, reason="fine")


class TestFirstResult:
    """After the deploy the health is unknown until the checks that decide have said so."""

    def test_the_deploy_being_done_is_no_health_result(self, cast, watched):
        assert fresh(watched).health == Health.UNKNOWN

    def test_it_turns_healthy_once_every_deciding_check_passes(self, cast, watched):
        error_rate = health_check(watched, cast)
        latency = health_check(watched, cast, "Latency")
        health_check(watched, cast, "Queue depth", required=False)  # advisory: never waited on

        report(error_rate, "passing", "0.004")
        assert fresh(watched).health == Health.UNKNOWN
        report(latency, "passing", "120 ms")

        release = fresh(watched)
        assert release.health == Health.HEALTHY
        event = release.events.get(verb="health_changed")
        assert event.summary == "Health healthy: every health check that decides passes"
        assert event.actor_label == "Greenlight"

    def test_an_advisory_pass_is_no_verdict(self, cast, watched):
        report(health_check(watched, cast, required=False), "passing", "0.004")
        assert fresh(watched).health == Health.UNKNOWN

    def test_a_pass_before_the_deploy_is_done_is_no_verdict(self, cast, release):
        make_deploying(release, cast)
        report(health_check(release, cast), "passing", "0.004")
        assert fresh(release).health == Health.UNKNOWN

    def test_a_check_passing_since_the_deploy_counts_once_read_again_after_it(self, cast, release):
        make_deploying(release, cast)
        check = health_check(release, cast)
        report(check, "passing", "0.004")  # while deploying: not yet about the new release
        smoke = release.checklist_items.get(title="Smoke test in production")
        tick_checklist_item(smoke, by=cast.dana)
        finish_deploy(release, by=cast.dana)
        health.watch_health()
        assert fresh(release).health == Health.UNKNOWN

        report(check, "passing", "0.003")  # the same status, read after the deploy
        report_ = health.watch_health()

        assert report_.healthy == 1
        assert fresh(release).health == Health.HEALTHY

    def test_a_window_without_health_checks_ends_released_but_not_called_healthy(
        self, cast, watched
    ):
        end_window(watched)
        health.watch_health()
        release = fresh(watched)
        assert (release.status, release.health) == (Status.RELEASED, Health.UNKNOWN)
        assert release.events.get(verb="released").summary == (
            "Released: the monitoring window passed with no health check failing"
        )


def end_window(release: Release, minutes_ago: int = 1) -> None:
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )


class TestWindowEnd:
    def test_a_healthy_window_end_releases_the_release(self, cast, watched):
        report(health_check(watched, cast), "passing", "0.004")
        report(health_check(watched, cast, "Latency", required=False), "failing", "900 ms")
        end_window(watched)
        later = make_monitoring(make_release(cast, "1.1.0"), cast)

        assert tasks.watch_health_windows() == 1

        release = fresh(watched)
        assert release.status == Status.RELEASED
        assert release.events.get(verb="released").actor_label == "Greenlight"
        assert Notification.objects.filter(release=release, verb="review_due").exists()
        assert fresh(later).status == Status.MONITORING  # its window is still open

    @pytest.mark.parametrize(
        ("status", "reason"),
        [
            ("pending", "“Checkout error rate” has no result yet"),
            ("error", "“Checkout error rate” could not be read"),
            ("needs_judgement", "“Checkout error rate” needs a person's judgement"),
        ],
    )
    def test_a_required_check_without_a_pass_keeps_the_release_and_says_why(
        self, cast, watched, status, reason
    ):
        check = health_check(watched, cast)
        if status != "pending":
            report(check, status, "no answer")
        end_window(watched)

        report_ = health.watch_health()
        health.watch_health()  # told once, not at every tick

        assert (report_.released, report_.held) == (0, 1)
        assert fresh(watched).status == Status.MONITORING
        note = Notification.objects.get(verb="health_window_held")
        assert note.user == cast.rita
        assert reason in note.message
        event = ReleaseEvent.objects.get(verb="health_window_held")
        assert event.data == {"blockers": [reason]}

        report(check, "passing", "0.004")
        health.watch_health()
        assert fresh(watched).status == Status.RELEASED

    def test_a_pass_that_has_not_held_long_enough_keeps_the_release(self, cast, watched):
        check = health_check(watched, cast, hold=600)
        report(check, "passing", "0.004")
        end_window(watched)
        health.watch_health()
        assert fresh(watched).status == Status.MONITORING
        assert health.health_blockers(fresh(watched)) == [
            "“Checkout error rate” has not been passing for 10 min yet"
        ]
        passed_at = known(Check.objects.get(pk=check.pk).passing_since)
        health.watch_health(now=passed_at + dt.timedelta(minutes=10))
        assert fresh(watched).status == Status.RELEASED

    def test_an_unhealthy_release_stays_in_monitoring(self, cast, watched):
        check = health_check(watched, cast)
        report(check, "failing", "0.08")
        report(check, "passing", "0.004")
        end_window(watched)
        health.watch_health()
        assert fresh(watched).status == Status.MONITORING
        assert "it is unhealthy (“Checkout error rate” failing (0.08))" in (
            Notification.objects.get(verb="health_window_held").message
        )

    def test_a_person_goes_through_the_same_rule(self, cast, watched):
        check = health_check(watched, cast)
        with pytest.raises(health.NotHealthy) as refused:
            health.release_if_healthy(watched, by=cast.rita)
        assert refused.value.blockers[0].startswith("the monitoring window has 2 h left (until ")
        assert refused.value.blockers[1] == "“Checkout error rate” has no result yet"
        assert str(refused.value).startswith("Cannot mark the release released: the monitoring")

        report(check, "passing", "0.004")
        end_window(watched)
        with pytest.raises(NotAllowed):
            health.release_if_healthy(watched, by=cast.dana)
        release = health.release_if_healthy(watched, by=cast.rita)
        assert release.status == Status.RELEASED
        assert release.events.get(verb="released").actor == cast.rita

    def test_only_a_release_in_monitoring_can_be_released(self, cast, release):
        make_deploying(release, cast)
        with pytest.raises(health.NotHealthy, match="it is deploying"):
            health.release_if_healthy(release, by=cast.rita)
