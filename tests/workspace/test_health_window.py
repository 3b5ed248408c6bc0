"""The health window on the release page: "mark released" fails closed, a recommended rollback
is one click for those who may roll back, the trigger editor in the rollback plan section, and
judging an unhealthy release healthy again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Check, RollbackTrigger
from monitoring.services import health
from monitoring.services.checks import save_release_check
from monitoring.services.results import record_check_result
from releases.models import Health, Release, Status
from releases.services.rollback import roll_back, update_rollback_plan
from tests.builders import complete_rollback_plan, make_monitoring, make_release
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db

HOOK = "https://ci.example.com/hooks/rollback"


def error_rate(release, cast, *, name="Checkout error rate", required=True) -> Check:
    return save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name=name,
        phase="post_release",
        required=required,
        comparator="lt",
        threshold=0.02,
    )


def report(check: Check, status: str, value: str = "") -> None:
    record_check_result(check, status=status, value=value, source="api", by="monitor")


def page_of(user, release) -> str:
    response = client_for(user).get(release.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def header_of(page: str) -> str:
    return page.split('id="sec-header"')[1].split("</section>")[0]


def rollback_section(page: str) -> str:
    return page.split('id="sec-rollback"')[1].split("</section>")[0]


def action(user, release, name, **data):
    return htmx_post(client_for(user), reverse("release_action", args=[release.pk, name]), data)


@pytest.fixture
def watched(cast, release) -> Release:
    """In its monitoring window, Rita making the rollback call."""
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)
    return release


def window_over(release) -> None:
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )


class TestMarkReleased:
    def test_it_waits_for_a_required_check_without_a_result(self, cast, watched):
        error_rate(watched, cast)
        window_over(watched)
        header = header_of(page_of(cast.rita, watched))
        assert 'id="do-complete" class="primary" disabled' in header
        assert "Not yet: “Checkout error rate” has no result yet." in header
        response = action(cast.rita, watched, "complete")
        assert response.status_code == 409
        assert "Cannot mark the release released: “Checkout error rate” has no result yet." in (
            response.content.decode()
        )
        watched.refresh_from_db()
        assert watched.status == Status.MONITORING

    def test_it_releases_once_the_window_is_over_and_the_checks_pass(self, cast, watched):
        report(error_rate(watched, cast), "passing", "0.4 %")
        window_over(watched)
        header = header_of(page_of(cast.rita, watched))
        assert 'id="do-complete" class="primary" >' in header
        assert "Not yet" not in header
        assert action(cast.rita, watched, "complete").status_code == 200
        watched.refresh_from_db()
        assert watched.status == Status.RELEASED

    def test_it_says_how_long_the_window_still_runs(self, cast, watched):
        header = header_of(page_of(cast.rita, watched))
        assert "Not yet: the monitoring window has" in header
        assert action(cast.rita, watched, "complete").status_code == 409
        watched.refresh_from_db()
        assert watched.status == Status.MONITORING

    def test_it_offers_mark_released_to_release_managers_only(self, cast, watched):
        window_over(watched)
        assert 'id="do-complete"' not in page_of(cast.dana, watched)
        assert action(cast.dana, watched, "complete").status_code == 403
        watched.refresh_from_db()
        assert watched.status == Status.MONITORING


class TestHealthShown:
    def test_it_says_it_awaits_the_first_health_result_after_the_deploy(self, cast, watched):
        check = error_rate(watched, cast)
        header = header_of(page_of(cast.vic, watched))
        assert 'data-testid="health">Awaiting the first health result</span>' in header
        assert "Healthy" not in header

        report(check, "passing", "0.4 %")
        header = header_of(page_of(cast.vic, watched))
        assert 'data-testid="health">Healthy</span>' in header

    def test_it_says_no_health_checks_are_configured_rather_than_healthy(self, cast, watched):
        header = header_of(page_of(cast.vic, watched))
        assert 'data-testid="health">No health checks configured</span>' in header
        window_over(watched)
        health.watch_health()
        watched.refresh_from_db()
        assert watched.status == Status.RELEASED
        page = page_of(cast.vic, watched)
        assert 'data-testid="health-box"' in page
        assert "No health checks configured" in header_of(page)
        assert "Healthy" not in header_of(page)


class TestRecommendedRollback:
    @pytest.fixture
    def recommended(self, cast, watched):
        check = error_rate(watched, cast)
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "failing", "4.1 %")
        watched.refresh_from_db()
        assert watched.rollback_recommended
        return watched

    def test_it_shows_the_recommendation_with_a_one_click_rollback(self, cast, recommended):
        header = header_of(page_of(cast.rita, recommended))
        recommendation = header.split('data-testid="recommendation">')[1].split("</div>")[0]
        assert "Rollback recommended" in recommendation
        assert "Checkout error rate ≥ 0.02" in recommendation
        assert 'id="roll-back-now"' in header
        reason = header.split('class="banner-action"')[1].split('name="reason" value="')[1]
        reason = reason.split('"')[0].replace("&#x27;", "'")
        assert reason.startswith("Rolled back as recommended: Checkout error rate ≥ 0.02")
        response = action(cast.rita, recommended, "roll_back", reason=reason)
        assert response.status_code == 200
        recommended.refresh_from_db()
        assert recommended.status == Status.ROLLED_BACK
        assert recommended.rollback_decided_by == cast.rita
        assert recommended.rollback_reason.startswith("Rolled back as recommended:")

    def test_it_shows_the_recommendation_to_everyone_and_the_button_to_those_who_roll_back(
        self, cast, recommended
    ):
        for person in (cast.dana, cast.rita):
            assert 'id="roll-back-now"' in page_of(person, recommended)
        for person in (cast.vic, cast.quinn, cast.devin, cast.paul):
            page = page_of(person, recommended)
            assert 'data-testid="recommendation"' in page
            assert 'id="roll-back-now"' not in page
        assert action(cast.vic, recommended, "roll_back", reason="x").status_code == 403
        recommended.refresh_from_db()
        assert recommended.status == Status.MONITORING

    def test_it_keeps_the_recommendation_beside_the_review(self, cast, recommended):
        roll_back(recommended, by=cast.rita, reason="As recommended")
        facts = page_of(cast.vic, recommended).split('class="review-facts"')[1]
        rollback = facts.split('data-testid="fact-rollback">')[1].split("</dd>")[0]
        assert "Recommended" in rollback
        assert "Checkout error rate ≥ 0.02" in rollback


class TestHealthyAgain:
    def test_it_refuses_while_a_deciding_check_fails_and_accepts_once_it_passes(
        self, cast, watched
    ):
        check = error_rate(watched, cast)
        report(check, "failing", "4.1 %")
        watched.refresh_from_db()
        assert watched.health == Health.UNHEALTHY
        assert 'id="do-restore_health"' in page_of(cast.dana, watched)
        response = action(cast.dana, watched, "restore_health", reason="Looks fine")
        assert response.status_code == 409
        assert "is still failing" in response.content.decode()
        watched.refresh_from_db()
        assert watched.health == Health.UNHEALTHY
        report(check, "passing", "0.3 %")
        missing = action(cast.dana, watched, "restore_health", reason=" ")
        assert missing.status_code == 422
        response = action(cast.dana, watched, "restore_health", reason="Cache warmed up")
        assert response.status_code == 200
        watched.refresh_from_db()
        assert watched.health == Health.HEALTHY

    def test_it_lets_only_those_who_roll_back_judge_it(self, cast, watched):
        report(error_rate(watched, cast), "failing", "4 %")
        for person in (cast.vic, cast.quinn):
            assert 'id="do-restore_health"' not in page_of(person, watched)
            assert action(person, watched, "restore_health", reason="fine").status_code == 403
        watched.refresh_from_db()
        assert watched.health == Health.UNHEALTHY


class TestTriggerEditor:
    def url(self, release, name, *args):
        return reverse(name, args=[release.pk, *args])

    def test_it_binds_a_trigger_to_a_check_and_lists_it(self, cast, watched):
        check = error_rate(watched, cast)
        section = rollback_section(page_of(cast.dana, watched))
        assert "No trigger is bound to a check yet" in section
        assert f'<option value="{check.pk}">Checkout error rate</option>' in section
        response = htmx_post(
            client_for(cast.dana),
            self.url(watched, "rollback_trigger_add"),
            {"check": check.pk, "mode": "recommend", "description": ""},
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert body.lstrip().startswith('<section id="sec-rollback"')
        assert "Trigger added: Checkout error rate ≥ 0.02 → recommend a rollback" in body
        trigger = RollbackTrigger.objects.get()
        assert (trigger.check_ref, trigger.mode) == (check, "recommend")
        assert f'id="trigger-{trigger.pk}"' in body
        assert "Recommends a rollback" in body
        # A check with a trigger is not offered again.
        assert f'<option value="{check.pk}">' not in body

    def test_it_needs_the_webhook_for_an_automatic_trigger_and_adds_nothing_without(
        self, cast, watched
    ):
        check = error_rate(watched, cast)
        client = client_for(cast.dana)
        response = htmx_post(
            client,
            self.url(watched, "rollback_trigger_add"),
            {"check": check.pk, "mode": "automatic"},
        )
        assert response.status_code == 422
        assert "set its URL first" in response.content.decode()
        assert not RollbackTrigger.objects.exists()
        update_rollback_plan(watched, by=cast.dana, rollback_webhook_url=HOOK)
        response = htmx_post(
            client,
            self.url(watched, "rollback_trigger_add"),
            {"check": check.pk, "mode": "automatic", "description": "Errors above 2 %"},
        )
        assert response.status_code == 200
        assert "Rolls back automatically" in response.content.decode()
        assert RollbackTrigger.objects.get().description == "Errors above 2 %"

    def test_it_refuses_a_check_of_another_release(self, cast, watched):
        other = make_release(cast, "9.9.9")
        foreign = error_rate(other, cast)
        error_rate(watched, cast)
        response = htmx_post(
            client_for(cast.dana),
            self.url(watched, "rollback_trigger_add"),
            {"check": foreign.pk, "mode": "recommend"},
        )
        assert response.status_code == 422
        assert "Select a valid choice." in response.content.decode()
        assert not RollbackTrigger.objects.exists()

    def test_it_changes_and_removes_a_trigger(self, cast, watched):
        check = error_rate(watched, cast)
        update_rollback_plan(watched, by=cast.dana, rollback_webhook_url=HOOK)
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        client = client_for(cast.rita)
        prefix = f"trigger{trigger.pk}"
        blank = htmx_post(
            client,
            self.url(watched, "rollback_trigger_save", trigger.pk),
            {f"{prefix}-mode": "automatic", f"{prefix}-description": ""},
        )
        assert blank.status_code == 422
        trigger.refresh_from_db()
        assert trigger.mode == "recommend"
        response = htmx_post(
            client,
            self.url(watched, "rollback_trigger_save", trigger.pk),
            {f"{prefix}-mode": "automatic", f"{prefix}-description": "Errors above 2 %"},
        )
        assert response.status_code == 200
        trigger.refresh_from_db()
        assert (trigger.mode, trigger.description) == ("automatic", "Errors above 2 %")
        response = htmx_post(client, self.url(watched, "rollback_trigger_remove", trigger.pk))
        assert response.status_code == 200
        assert "Trigger removed: Errors above 2 %." in response.content.decode()
        assert not RollbackTrigger.objects.exists()

    def test_it_lets_only_devops_and_the_release_manager_edit_triggers(self, cast, watched):
        check = error_rate(watched, cast)
        trigger = health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        section = rollback_section(page_of(cast.vic, watched))
        assert "Checkout error rate ≥ 0.02" in section
        assert 'id="trigger-add"' not in section
        assert f'id="trigger-{trigger.pk}-remove"' not in section
        prefix = f"trigger{trigger.pk}"
        for person in (cast.vic, cast.quinn, cast.paul):
            client = client_for(person)
            added = htmx_post(
                client, self.url(watched, "rollback_trigger_add"), {"check": check.pk}
            )
            saved = htmx_post(
                client,
                self.url(watched, "rollback_trigger_save", trigger.pk),
                {f"{prefix}-mode": "automatic", f"{prefix}-description": "x"},
            )
            removed = htmx_post(client, self.url(watched, "rollback_trigger_remove", trigger.pk))
            assert (added.status_code, saved.status_code, removed.status_code) == (403, 403, 403)
        outsider = client_for(cast.otto)
        assert (
            outsider.post(self.url(watched, "rollback_trigger_remove", trigger.pk)).status_code
            == 404
        )
        trigger.refresh_from_db()
        assert trigger.mode == "recommend"

    def test_it_points_to_the_checks_page_when_there_is_no_post_release_check(self, cast, watched):
        section = rollback_section(page_of(cast.dana, watched))
        assert "no post-release check to bind a trigger to" in section
        assert reverse("release_checks", args=[watched.pk]) in section


@pytest.mark.parametrize("count", [2, 20])
def test_it_draws_the_triggers_in_the_same_number_of_queries_however_many(
    cast, watched, count, django_assert_max_num_queries
):
    for n in range(count):
        check = error_rate(watched, cast, name=f"Error rate {n:02}")
        health.add_rollback_trigger(watched, by=cast.dana, check=check, mode="recommend")
        report(check, "passing", "0.1 %")
    client = client_for(cast.dana)
    # 22, 2 for the feature-flag section (its flags, the flag integrations to offer) and 4 for
    # the trackers and commits card (its sources, the tracker integrations, the commit range and
    # the accepted changes), as on the release page's own budget, and 1 for the incidents.
    with django_assert_max_num_queries(29):
        response = client.get(watched.get_absolute_url())
    assert response.status_code == 200
    assert f"Error rate {count - 1:02} ≥ 0.02" in rollback_section(response.content.decode())
