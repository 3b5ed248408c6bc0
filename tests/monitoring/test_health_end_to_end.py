"""The health window end to end: beat ticks, the default worker and the poller (its own queue, a
thread pool) read a real Prometheus that scrapes the application's error ratio, and act on it —
unhealthy, a recommended rollback, an automatic one that calls the rollback webhook (a local
server) once, and the window's end."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.utils import timezone

from config.celery import app
from lib.errors import Refused
from monitoring import tasks
from monitoring.models import Check, RollbackWebhookCall
from monitoring.services import health
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.polling import poll_check_now
from monitoring.services.rollback import reveal_rollback_webhook_secret, signature_matches
from releases.models import Health, Notification, Release, Status
from releases.services.rollback import update_rollback_plan
from tests.builders import known, make_cast, make_monitoring, make_release
from tests.local_servers import WebhookServer, serving
from tests.processes import wait_for, wait_for_sample

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

QUERY = 'checkout_error_ratio{job="checkout"}'


@pytest.fixture(autouse=True)
def _through_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    # What this process enqueues goes to Redis for the real workers, not run inline.
    monkeypatch.setitem(app.conf, "task_always_eager", False)


def watch(release: Release, cast, integration, *, mode: str = "") -> Check:
    """The error-rate check (passes below 2 %), with a rollback trigger in ``mode``."""
    check = save_release_check(
        release,
        by=cast.dana,
        integration=integration,
        name="Checkout error rate below 2 %",
        phase="post_release",
        params={"query": QUERY},
        comparator="lt",
        threshold=0.02,
        interval_seconds=10,
    )
    if mode:
        health.add_rollback_trigger(
            release, by=cast.dana, check=check, mode=mode, description="error rate > 2 %"
        )
    return check


def scraped(prometheus: str, value: float) -> None:
    """Wait until Prometheus has the exporter's new value."""
    wait_for_sample(prometheus, QUERY, value, timeout=20)


def read_now(checks: list[Check], by) -> None:
    """dana's "read it now": due at the next dispatcher tick instead of in 10 s. Once: each
    call voids a fetch already claimed."""
    for check in checks:
        # A check whose release is no longer watched is not read.
        with contextlib.suppress(Refused):
            poll_check_now(Check.objects.get(pk=check.pk), by=by)


def statuses(checks: list[Check]) -> set[str]:
    return set(Check.objects.filter(pk__in=[c.pk for c in checks]).values_list("status", flat=True))


def test_a_breach_recommends_or_starts_the_rollback_and_a_recovery_is_released(
    celery, prometheus, error_ratio
):
    gauge, _ = error_ratio
    cast = make_cast()
    prom = save_integration(
        cast.project, by=cast.rita, name="Prometheus", kind="prometheus", base_url=prometheus
    )
    with serving(WebhookServer([200])) as hook:
        recommended = make_monitoring(make_release(cast, "1.0.0"), cast)
        update_rollback_plan(recommended, by=cast.dana, decider=cast.paul)
        automatic = make_monitoring(make_release(cast, "1.1.0"), cast)
        update_rollback_plan(
            automatic, by=cast.dana, decider=cast.paul, rollback_webhook_url=hook.url
        )
        checks = [
            watch(recommended, cast, prom, mode="recommend"),
            watch(automatic, cast, prom, mode="automatic"),
        ]
        runner = celery(HEALTH_WATCH_SECONDS="1")
        runner.worker("worker", queues="celery", concurrency=2)
        runner.poller()
        runner.beat()
        try:
            wait_for(lambda: statuses(checks) == {"passing"}, 60, "the poller to read Prometheus")
            assert Release.objects.get(pk=recommended.pk).health == Health.HEALTHY

            gauge.set(0.08)
            scraped(prometheus, 0.08)
            read_now(checks, cast.dana)

            def acted() -> bool:
                return (
                    Release.objects.get(pk=recommended.pk).rollback_recommended
                    and Release.objects.get(pk=automatic.pk).status == Status.ROLLED_BACK
                )

            wait_for(acted, 60, "the breach to be acted on")
            wait_for(hook.posted.copy, 30, "the rollback webhook to be called")
            wait_for(
                lambda: RollbackWebhookCall.objects.filter(state="delivered").exists(),
                30,
                "the call to be recorded",
            )
        except AssertionError:
            pytest.fail(runner.logs())

        # The recommendation is on the release, and the decider was told.
        release = Release.objects.get(pk=recommended.pk)
        assert release.status == Status.MONITORING
        assert release.health == Health.UNHEALTHY
        assert release.rollback_recommendation == (
            "error rate > 2 %: “Checkout error rate below 2 %” failing (0.08)"
        )
        told = Notification.objects.get(release=release, verb="rollback_recommended")
        assert told.user == cast.paul
        assert Notification.objects.filter(release=release, verb="unhealthy", user=cast.paul)

        # The automatic trigger rolled back at once and called the webhook, signed, once.
        release = Release.objects.get(pk=automatic.pk)
        assert release.rollback_automatic
        assert release.events.get(verb="rolled_back").actor_label == (
            "Greenlight (trigger “error rate > 2 %”)"
        )
        [posted] = hook.posted
        secret = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
        assert signature_matches(secret, posted.body, posted.headers["x-greenlight-signature"])
        call = RollbackWebhookCall.objects.get(release=release)
        assert posted.headers["x-greenlight-delivery"] == str(call.delivery_id)

        # The broker delivers the task again: the worker runs it and calls nobody.
        again = tasks.deliver_rollback_webhook.apply_async(args=(call.pk,))
        try:
            wait_for(
                lambda: f"deliver_rollback_webhook[{again.id}] succeeded" in runner.log("worker"),
                30,
                "the worker to run the task again",
            )
        except AssertionError:
            pytest.fail(runner.logs())
        assert len(hook.posted) == 1
        assert release.events.filter(verb="rollback_webhook_called").count() == 1

    # The error rate comes down. The recommended release's window is over meanwhile; it stays
    # in monitoring while unhealthy and goes once the decider judges it healthy again.
    Release.objects.filter(pk=recommended.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(seconds=1)
    )
    gauge.set(0.004)
    try:
        wait_for(
            lambda: Notification.objects.filter(
                release=recommended, verb="health_window_held", user=cast.rita
            ).exists(),
            30,
            "beat to hold the unhealthy release",
        )
        scraped(prometheus, 0.004)
        read_now(checks[:1], cast.dana)
        wait_for(lambda: statuses(checks[:1]) == {"passing"}, 60, "the check to pass again")
        assert Release.objects.get(pk=recommended.pk).status == Status.MONITORING
        health.restore_health(recommended, by=cast.paul, reason="Error rate back at 0.4 %")
        wait_for(
            lambda: Release.objects.get(pk=recommended.pk).status == Status.RELEASED,
            30,
            "beat to release it",
        )
    except AssertionError:
        pytest.fail(runner.logs())
    assert Release.objects.get(pk=recommended.pk).events.get(verb="released").actor_label == (
        "Greenlight"
    )


def test_a_healthy_window_ends_released_and_not_before(celery, prometheus):
    cast = make_cast()
    prom = save_integration(
        cast.project, by=cast.rita, name="Prometheus", kind="prometheus", base_url=prometheus
    )
    release = make_monitoring(make_release(cast), cast)
    check = watch(release, cast, prom)
    # A short window: a few seconds instead of the project's two hours.
    window_end = timezone.now() + dt.timedelta(seconds=8)
    Release.objects.filter(pk=release.pk).update(monitoring_until=window_end)
    runner = celery(HEALTH_WATCH_SECONDS="1")
    runner.worker("worker", queues="celery", concurrency=2)
    runner.poller()
    runner.beat()
    try:
        wait_for(lambda: statuses([check]) == {"passing"}, 60, "the poller to read Prometheus")
        if timezone.now() < window_end - dt.timedelta(seconds=1):
            assert Release.objects.get(pk=release.pk).status == Status.MONITORING
        wait_for(
            lambda: Release.objects.get(pk=release.pk).status == Status.RELEASED,
            30,
            "beat to end the window",
        )
    except AssertionError:
        pytest.fail(runner.logs())
    release.refresh_from_db()
    assert known(release.released_at) >= window_end
    assert release.health == Health.HEALTHY
    assert release.events.get(verb="released").actor_label == "Greenlight"
    assert Notification.objects.filter(release=release, verb="review_due").exists()
