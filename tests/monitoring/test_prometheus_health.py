"""A real Prometheus scrapes a tiny exporter; the poller reads it for a post-release check."""

from __future__ import annotations

import pytest
from django.utils import timezone

from monitoring import tasks
from monitoring.models import Check, CheckResult
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from releases.models import ReleaseEvent
from tests.builders import make_monitoring
from tests.processes import wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]


def poll_until(check: Check, status: str, timeout: float = 20) -> Check:
    """Run the real dispatcher and fetch tasks (eagerly, in this process) until ``status``."""

    def reached() -> Check | None:
        Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now())
        tasks.dispatch_due_checks()
        fresh = Check.objects.get(pk=check.pk)
        return fresh if fresh.status == status else None

    return wait_for(reached, timeout, f"the check to be {status}", every=0.5)


def test_the_health_check_follows_the_error_rate(cast, release, prometheus, error_ratio):
    gauge, _ = error_ratio
    make_monitoring(release, cast)
    integration = save_integration(
        cast.project, by=cast.rita, name="Prometheus", kind="prometheus", base_url=prometheus
    )
    check = save_release_check(
        release,
        by=cast.dana,
        integration=integration,
        name="Checkout error rate below 2 %",
        phase="post_release",
        params={"query": 'checkout_error_ratio{job="checkout"}'},
        comparator="lt",
        threshold=0.02,
        interval_seconds=10,
    )

    check = poll_until(check, "passing")
    assert check.last_value == "0.001"

    gauge.set(0.08)
    check = poll_until(check, "failing")
    assert check.last_value == "0.08"
    assert check.last_detail.endswith("is 0.08; it must be below 0.02.")

    gauge.set(0.004)
    check = poll_until(check, "passing")

    history = list(
        CheckResult.objects.filter(check_ref=check)
        .order_by("observed_at")
        .values_list("status", flat=True)
    )
    assert history == ["passing", "failing", "passing"]
    summaries = [
        e.summary
        for e in ReleaseEvent.objects.filter(release=release, verb="check_status").order_by(
            "created_at", "pk"
        )
        if "Checkout error rate" in e.summary
    ]
    assert [s.split(": ", 1)[1].split(" (")[0] for s in summaries] == [
        "pending → passing",
        "passing → failing",
        "failing → passing",
    ]
    integration.refresh_from_db()
    assert integration.last_success_at is not None
    assert integration.consecutive_failures == 0
