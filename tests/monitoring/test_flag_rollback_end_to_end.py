"""Rolling back one feature end to end: a release ships three features behind LaunchDarkly
flags; a real Prometheus scrapes the error rate of one of them; when that breaches, the health
window switches that flag off through the adapter (a local stand-in for LaunchDarkly records
the semantic patch), the error rate falls, and the release stays in monitoring, healthy again —
no redeploy, no rollback."""

from __future__ import annotations

import pytest
from django.utils import timezone

from monitoring import tasks
from monitoring.models import Check, FlagSwitch
from monitoring.services import flags
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from releases.models import Health, Release, Status
from tests.builders import make_cast, make_monitoring, make_release
from tests.local_servers import serving
from tests.monitoring.launchdarkly_standin import LaunchDarklyStandIn
from tests.processes import wait_for, wait_for_sample

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

QUERY = 'checkout_error_ratio{job="checkout"}'
FLAGS = ("new-checkout", "one-click-pay", "saved-cards")


def poll_until(check: Check, status: str, timeout: float = 30) -> Check:
    """The real dispatcher and fetch tasks (eagerly, in this process) until ``status``."""

    def reached() -> Check | None:
        Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now())
        tasks.dispatch_due_checks()
        fresh = Check.objects.get(pk=check.pk)
        return fresh if fresh.status == status else None

    return wait_for(reached, timeout, f"the check to be {status}", every=0.5)


def scraped(prometheus: str, value: float) -> None:
    """Wait until Prometheus has the exporter's new value."""
    wait_for_sample(prometheus, QUERY, value, timeout=20)


def test_a_breach_switches_one_flag_off_and_the_release_stays_healthy(prometheus, error_ratio):
    gauge, _ = error_ratio

    def feature_gone(key: str, body: dict) -> None:
        # The application stops serving the broken feature: its errors stop.
        if key == "one-click-pay" and body["environmentKey"] == "production":
            gauge.set(0.004)

    held = {key: {"production": True, "staging": True} for key in FLAGS}
    with serving(LaunchDarklyStandIn(held, on_patch=feature_gone)) as launchdarkly:
        cast = make_cast()
        release = make_release(cast, "3.0.0", scope=3)
        ld = save_integration(
            cast.project,
            by=cast.dana,
            name="LaunchDarkly",
            kind="launchdarkly",
            base_url=launchdarkly.url,
            config={"project": "shop", "environments": "staging,production"},
            secrets={"token": "api-standin"},
        )
        prom = save_integration(
            cast.project, by=cast.rita, name="Prometheus", kind="prometheus", base_url=prometheus
        )
        bound = {
            key: flags.bind_flag(item, by=cast.devin, integration=ld, key=key)
            for item, key in zip(release.scope_items.order_by("key"), FLAGS, strict=True)
        }
        make_monitoring(release, cast)
        check = save_release_check(
            release,
            by=cast.dana,
            integration=prom,
            name="One-click pay error rate below 2 %",
            phase="post_release",
            params={"query": QUERY},
            comparator="lt",
            threshold=0.02,
            interval_seconds=10,
        )
        flags.add_flag_trigger(
            release,
            by=cast.dana,
            check=check,
            flag=bound["one-click-pay"],
            mode="automatic",
            description="one-click pay errors > 2 %",
        )
        poll_until(check, "passing")
        assert flags.read_flag_states(release) == 3

        gauge.set(0.08)
        scraped(prometheus, 0.08)
        poll_until(check, "failing")

        # The breach switched that one flag off, through the adapter, once.
        assert launchdarkly.patches == [
            {
                "flag": "one-click-pay",
                "environmentKey": "production",
                "comment": f"Greenlight, {release}: one-click pay errors > 2 %: "
                "“One-click pay error rate below 2 %” failing (0.08)",
                "instructions": [{"kind": "turnFlagOff"}],
            }
        ]
        assert launchdarkly.requests[-1][2]["content-type"] == (
            "application/json; domain-model=launchdarkly.semanticpatch"
        )
        assert held["new-checkout"]["production"]
        assert held["saved-cards"]["production"]
        assert FlagSwitch.objects.get().state == "done"
        watched = Release.objects.get(pk=release.pk)
        assert watched.status == Status.MONITORING
        assert watched.health == Health.UNHEALTHY
        assert not watched.rollback_recommended

        # The health window watches the result: the error rate falls, the release is healthy.
        scraped(prometheus, 0.004)
        poll_until(check, "passing")
        recovered = Release.objects.get(pk=release.pk)
        assert recovered.status == Status.MONITORING
        assert recovered.health == Health.HEALTHY
        verbs = list(recovered.events.order_by("pk").values_list("verb", flat=True))
        assert verbs.index("flag_switch_requested") < verbs.index("flag_switched_off")
        assert "rolled_back" not in verbs

        # The page shows it: the flag off in production, the others still on.
        flags.read_flag_states(release)
        states = {f.key: f.states["production"]["on"] for f in flags.flags_of(release)}
        assert states == {"new-checkout": True, "one-click-pay": False, "saved-cards": True}
