"""Feature flags of a release's scope: naming them, reading their state per environment,
gating on it, and switching one off — by a person or by a rollback trigger — through a local
stand-in for LaunchDarkly that records every semantic patch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.readiness import compute_readiness
from lib.errors import NotAllowed, Refused
from monitoring.models import Check, FeatureFlag, FlagSwitch
from monitoring.services import flags
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.polling import poll_check_now
from monitoring.services.results import record_check_result
from releases.models import Health, Notification, Status
from tests.builders import connect_launchdarkly, make_monitoring, make_release
from tests.local_servers import serving
from tests.monitoring.fakes import run_cycle
from tests.monitoring.launchdarkly_standin import LaunchDarklyStandIn


@pytest.fixture
def standin() -> Iterator[LaunchDarklyStandIn]:
    flags_held = {
        "new-checkout": {"production": True, "test": True},
        "one-click-pay": {"production": False, "test": True},
    }
    with serving(LaunchDarklyStandIn(flags_held)) as server:
        yield server


@pytest.fixture
def launchdarkly(cast, standin):
    return connect_launchdarkly(cast, standin.url)


def name_flag(release, cast, integration, key: str = "new-checkout") -> FeatureFlag:
    item = release.scope_items.first()
    return flags.bind_flag(item, by=cast.devin, integration=integration, key=key)


def error_rate_check(release, cast) -> Check:
    push = save_integration(cast.project, by=cast.dana, name="Push", kind="push")
    return save_release_check(
        release,
        by=cast.dana,
        integration=push,
        name="Checkout error rate below 2 %",
        phase="post_release",
        comparator="lt",
        threshold=0.02,
    )


def breach(check: Check, value: str = "0.08") -> None:
    record_check_result(check, status="failing", value=value, source="api")


# --- naming and reading -------------------------------------------------------------------------


def test_it_names_a_scope_items_flag_and_logs_it(cast, release, launchdarkly):
    flag = name_flag(release, cast, launchdarkly)
    assert flag.scope_item.release == release
    event = release.events.get(verb="flag_named")
    assert event.summary == "Feature flag new-checkout (LaunchDarkly) named for PAY-1 Feature 1"


def test_a_viewer_names_no_flag(cast, release, launchdarkly):
    with pytest.raises(NotAllowed) as refused:
        flags.bind_flag(release.scope_items.first(), by=cast.vic, integration=launchdarkly, key="x")
    assert str(refused.value) == (
        "Only Product, developers, DevOps and the release manager name a scope item's feature flag."
    )


def test_a_flag_lives_in_a_flag_integration(cast, release):
    prometheus = save_integration(
        cast.project, by=cast.dana, name="Prom", kind="prometheus", base_url="https://prom.example"
    )
    with pytest.raises(ValidationError) as invalid:
        name_flag(release, cast, prometheus)
    assert invalid.value.message_dict == {
        "integration": ["Choose one of this project's feature-flag integrations."]
    }


def test_it_reads_each_flags_state_per_environment(cast, release, launchdarkly):
    shipped = name_flag(release, cast, launchdarkly)
    missing = name_flag(release, cast, launchdarkly, key="gone")
    assert flags.read_flag_states(release) == 1
    shipped.refresh_from_db()
    missing.refresh_from_db()
    assert shipped.states == {
        "test": {"exists": True, "on": True, "percent": 100.0, "detail": ""},
        "production": {"exists": True, "on": True, "percent": 100.0, "detail": ""},
    }
    assert shipped.read_error == ""
    assert missing.states == {}
    assert missing.read_error.startswith("LaunchDarkly flag gone was not found (HTTP 404)")


def test_the_release_page_shows_each_flags_state_per_environment(
    client, cast, release, launchdarkly
):
    name_flag(release, cast, launchdarkly)
    name_flag(release, cast, launchdarkly, key="one-click-pay")
    flags.read_flag_states(release)
    client.force_login(cast.vic)
    page = client.get(reverse("release_detail", args=[release.pk])).content.decode()
    section = page.split('id="sec-flags"', 1)[1].split("</section>", 1)[0]
    assert "new-checkout" in section
    assert "one-click-pay" in section
    assert section.count("on for 100 %") == 3
    assert section.count(">off<") == 1
    # A viewer reads; the buttons are for the people who act.
    assert "Switch off" not in section
    assert "Name a scope item" not in section


# --- gating on flag state -----------------------------------------------------------------------


def test_a_flag_still_on_in_production_blocks_readiness_until_it_is_off(
    cast, release, launchdarkly, standin
):
    check = save_release_check(
        release,
        by=cast.dana,
        integration=launchdarkly,
        name="new-checkout off in production",
        params={"flag": "new-checkout", "condition": "off"},
    )
    run_cycle()
    check.refresh_from_db()
    assert check.status == "failing"
    blockers = [
        b.message for b in compute_readiness(release).blockers if "new-checkout" in b.message
    ]
    assert blockers == [
        "Check “new-checkout off in production” is not passing: failing – Flag new-checkout "
        "in production is on for 100 %; it must be off before the deploy."
    ]

    standin.flags["new-checkout"]["production"] = False
    poll_check_now(check, by=cast.dana)
    run_cycle()
    check.refresh_from_db()
    assert check.status == "passing"


# --- switching a flag off -----------------------------------------------------------------------


def test_a_recommend_trigger_tells_the_decider_and_one_click_switches_the_flag_off(
    cast, release, launchdarkly, standin, django_capture_on_commit_callbacks
):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    services_check = error_rate_check(release, cast)
    flags.add_flag_trigger(release, by=cast.dana, check=services_check, flag=flag, mode="recommend")
    with django_capture_on_commit_callbacks(execute=True):
        breach(services_check)
    release.refresh_from_db()
    assert release.health == Health.UNHEALTHY
    assert not release.rollback_recommended
    told = Notification.objects.get(verb="flag_off_recommended", user=cast.rita)
    assert "Switching feature flag new-checkout off in production is recommended" in told.message
    assert standin.patches == []

    with django_capture_on_commit_callbacks(execute=True):
        flags.turn_flag_off(flag, by=cast.dana, reason="error rate after the deploy")
    [patch] = standin.patches
    assert patch == {
        "flag": "new-checkout",
        "environmentKey": "production",
        "comment": f"Greenlight, {release}: error rate after the deploy",
        "instructions": [{"kind": "turnFlagOff"}],
    }
    switch = FlagSwitch.objects.get(flag=flag)
    assert switch.state == "done"
    assert switch.requested_by == "dana"
    assert release.events.filter(verb="flag_switched_off").exists()


def test_a_developer_does_not_switch_a_flag_off(cast, release, launchdarkly):
    flag = name_flag(release, cast, launchdarkly)
    with pytest.raises(NotAllowed) as refused:
        flags.turn_flag_off(flag, by=cast.devin, reason="")
    assert "switch a feature flag off" in str(refused.value)


def test_an_automatic_trigger_switches_its_flag_off_and_the_release_recovers(
    cast, release, launchdarkly, standin, django_capture_on_commit_callbacks
):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    check = error_rate_check(release, cast)
    flags.add_flag_trigger(
        release,
        by=cast.dana,
        check=check,
        flag=flag,
        mode="automatic",
        description="checkout errors",
    )
    with django_capture_on_commit_callbacks(execute=True):
        breach(check)
    [patch] = standin.patches
    assert patch["flag"] == "new-checkout"
    assert standin.flags["new-checkout"] == {"production": False, "test": True}
    release.refresh_from_db()
    assert release.status == Status.MONITORING
    assert release.health == Health.UNHEALTHY

    record_check_result(check, status="passing", value="0.004", source="api")
    release.refresh_from_db()
    assert release.status == Status.MONITORING
    assert release.health == Health.HEALTHY
    healthy = release.events.filter(verb="health_changed").order_by("-pk").first()
    assert healthy.summary == (
        "Health healthy: “Checkout error rate below 2 %” passes again (0.004) since feature "
        "flag new-checkout was switched off"
    )
    assert healthy.actor_label == "Greenlight"


def test_a_pass_without_a_switch_does_not_restore_health(
    cast, release, launchdarkly, django_capture_on_commit_callbacks
):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    check = error_rate_check(release, cast)
    flags.add_flag_trigger(release, by=cast.dana, check=check, flag=flag, mode="recommend")
    breach(check)
    record_check_result(check, status="passing", value="0.004", source="api")
    release.refresh_from_db()
    assert release.health == Health.UNHEALTHY


def test_a_switch_that_fails_recommends_the_rollback_instead(
    cast, release, launchdarkly, standin, django_capture_on_commit_callbacks
):
    flag = name_flag(release, cast, launchdarkly, key="not-in-launchdarkly")
    make_monitoring(release, cast)
    check = error_rate_check(release, cast)
    flags.add_flag_trigger(release, by=cast.dana, check=check, flag=flag, mode="automatic")
    with django_capture_on_commit_callbacks(execute=True):
        breach(check)
    switch = FlagSwitch.objects.get(flag=flag)
    assert switch.state == "failed"
    assert "was not found (HTTP 404)" in switch.outcome
    release.refresh_from_db()
    assert release.rollback_recommended
    assert "could not be switched off" in release.rollback_recommendation
    assert Notification.objects.filter(verb="flag_switch_failed", user=cast.rita).exists()


def test_a_switch_delivered_twice_calls_once(cast, release, launchdarkly, standin):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    switch = flags.turn_flag_off(flag, by=cast.rita, reason="by hand")
    assert flags.deliver_switch(switch.pk).outcome == "done"
    assert flags.deliver_switch(switch.pk).outcome == "gone"
    assert len(standin.patches) == 1


def test_a_flag_a_trigger_switches_stays_named(cast, release, launchdarkly):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    check = error_rate_check(release, cast)
    flags.add_flag_trigger(release, by=cast.dana, check=check, flag=flag, mode="recommend")
    with pytest.raises(Refused):
        flags.unbind_flag(flag, by=cast.rita)


def test_a_trigger_names_a_flag_of_this_release(cast, release, launchdarkly):
    other = make_release(cast, "2.0.0")
    theirs = name_flag(other, cast, launchdarkly)
    make_monitoring(release, cast)
    check = error_rate_check(release, cast)
    with pytest.raises(ValidationError) as invalid:
        flags.add_flag_trigger(release, by=cast.dana, check=check, flag=theirs, mode="automatic")
    assert invalid.value.message_dict == {
        "flag": ["Choose a feature flag of this release's scope."]
    }


def test_a_switch_whose_worker_died_is_made_again_and_one_in_flight_waits(
    cast, release, launchdarkly, standin
):
    flag = name_flag(release, cast, launchdarkly)
    make_monitoring(release, cast)
    switch = flags.turn_flag_off(flag, by=cast.rita, reason="by hand")
    now = timezone.now()
    FlagSwitch.objects.filter(pk=switch.pk).update(state="sending", claimed_at=now)
    busy = flags.deliver_switch(switch.pk, now=now + dt.timedelta(seconds=30))
    assert busy.outcome == "busy"
    assert busy.retry_in == 61
    assert standin.patches == []

    done = flags.deliver_switch(switch.pk, now=now + dt.timedelta(minutes=5))
    assert done.outcome == "done"
    assert len(standin.patches) == 1
