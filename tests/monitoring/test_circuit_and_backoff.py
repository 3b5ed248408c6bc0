"""Failing providers: the circuit breaker, Retry-After and reset headers, backoff with jitter."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest
from django.utils import timezone

from monitoring import circuit, timing
from monitoring.models import Check, Integration
from tests.builders import known
from tests.monitoring.fakes import Answer, FakeProvider, add_check, check_runs, github, run_cycle

HOUR = dt.timedelta(hours=1)


class Switch:
    """A provider that fails until told to recover."""

    def __init__(self, failure: Answer) -> None:
        self.failure = failure
        self.healthy = False

    def __call__(self, seen):
        if self.healthy:
            return Answer(body=check_runs(("build", "completed", "success")))
        return self.failure


def force_due(check: Check, now: dt.datetime) -> None:
    Check.objects.filter(pk=check.pk).update(next_poll_at=now)


def test_it_opens_the_circuit_after_repeated_failures_and_stops_calling(cast, release):
    provider = Switch(Answer(status=502))
    with FakeProvider(provider) as api:
        integration = github(cast, api.url)
        check = add_check(release, integration, cast.rita)
        start = timezone.now()
        for n in range(circuit.FAILURE_THRESHOLD):
            force_due(check, start + n * HOUR)
            run_cycle(now=start + n * HOUR)
        integration.refresh_from_db()
        assert integration.circuit_state == "open"
        assert integration.consecutive_failures == circuit.FAILURE_THRESHOLD
        assert len(api.seen) == circuit.FAILURE_THRESHOLD

        opened = known(integration.circuit_opened_at)
        force_due(check, opened + dt.timedelta(seconds=10))
        run_cycle(now=opened + dt.timedelta(seconds=10))

        assert len(api.seen) == circuit.FAILURE_THRESHOLD  # open: nobody called the provider
    check.refresh_from_db()
    assert check.status == "error"  # never passing while open
    assert check.last_value == "circuit open"
    assert "failed 5 times in a row" in check.last_detail
    # It comes back when the circuit may half-open, not before.
    assert known(check.next_poll_at) >= opened + dt.timedelta(seconds=circuit.COOLDOWN_SECONDS)


def test_a_half_open_trial_that_fails_opens_the_circuit_again(cast, release):
    provider = Switch(Answer(status=503))
    with FakeProvider(provider) as api:
        integration = github(cast, api.url)
        check = add_check(release, integration, cast.rita)
        Integration.objects.filter(pk=integration.pk).update(
            circuit_state="open",
            circuit_opened_at=timezone.now() - dt.timedelta(seconds=circuit.COOLDOWN_SECONDS + 1),
            consecutive_failures=5,
        )

        run_cycle()  # the trial call

        assert len(api.seen) == 1
        integration.refresh_from_db()
        assert integration.circuit_state == "open"
        assert known(integration.circuit_opened_at) > timezone.now() - dt.timedelta(seconds=5)
    check.refresh_from_db()
    assert check.status == "error"


def test_a_half_open_trial_that_succeeds_closes_the_circuit(cast, release):
    provider = Switch(Answer(status=503))
    provider.healthy = True
    with FakeProvider(provider) as api:
        integration = github(cast, api.url)
        check = add_check(release, integration, cast.rita)
        Integration.objects.filter(pk=integration.pk).update(
            circuit_state="open",
            circuit_opened_at=timezone.now() - dt.timedelta(seconds=circuit.COOLDOWN_SECONDS + 1),
            consecutive_failures=5,
        )

        run_cycle()

        assert len(api.fetches()) == 1
    integration.refresh_from_db()
    assert (integration.circuit_state, integration.consecutive_failures) == ("closed", 0)
    assert integration.last_success_at is not None
    check.refresh_from_db()
    assert check.status == "passing"


def test_only_one_worker_gets_the_half_open_trial(cast):
    integration = github(cast, "http://127.0.0.1:9")
    now = timezone.now()
    Integration.objects.filter(pk=integration.pk).update(
        circuit_state="open",
        circuit_opened_at=now - dt.timedelta(seconds=circuit.COOLDOWN_SECONDS + 1),
    )
    # Two workers loaded the same row before either asked.
    first, second = (
        Integration.objects.get(pk=integration.pk),
        Integration.objects.get(pk=integration.pk),
    )

    permits = [circuit.permit(first, now=now), circuit.permit(second, now=now)]

    assert [p.allowed for p in permits] == [True, False]
    assert permits[0].trial
    assert Integration.objects.get(pk=integration.pk).circuit_state == "half_open"


def test_it_waits_as_long_as_retry_after_says(cast, release):
    provider = Switch(Answer(status=429, headers={"Retry-After": "300"}, body="Retry later"))
    with FakeProvider(provider) as api:
        integration = github(cast, api.url)
        check = add_check(release, integration, cast.rita)
        now = timezone.now()
        run_cycle(now=now)

        integration.refresh_from_db()
        check.refresh_from_db()
        assert integration.backoff_until == now + dt.timedelta(seconds=300)
        assert known(check.next_poll_at) >= now + dt.timedelta(seconds=300)
        assert (check.status, check.last_value) == ("error", "rate limited")

        provider.healthy = True
        force_due(check, now + dt.timedelta(seconds=60))
        run_cycle(now=now + dt.timedelta(seconds=60))
        assert len(api.seen) == 1  # still inside the wait: not called

        force_due(check, now + dt.timedelta(seconds=301))
        run_cycle(now=now + dt.timedelta(seconds=301))
        assert len(api.fetches()) == 2

    check.refresh_from_db()
    integration.refresh_from_db()
    assert check.status == "passing"
    assert integration.backoff_until is None


def test_it_waits_for_githubs_rate_limit_reset(cast, release):
    reset = int(time.time()) + 900
    limited = Answer(
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        body={"message": "API rate limit exceeded"},
    )
    with FakeProvider(Switch(limited)) as api:
        integration = github(cast, api.url)
        add_check(release, integration, cast.rita)
        run_cycle()

    integration.refresh_from_db()
    expected = dt.datetime.fromtimestamp(reset, tz=dt.UTC)
    assert abs((known(integration.backoff_until) - expected).total_seconds()) < 5


@pytest.mark.parametrize("errors", range(1, 9))
def test_backoff_doubles_with_each_error_with_jitter_and_a_cap(errors):
    rng = random.Random(errors)
    ceiling = min(timing.BACKOFF_CAP_SECONDS, 60 * 2 ** (errors - 1))

    delays = [timing.backoff_seconds(errors, 60, rng=rng) for _ in range(200)]

    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len({round(d, 3) for d in delays}) > 150  # jittered, not one value


def test_it_backs_off_further_after_each_failure(cast, release):
    with FakeProvider(Switch(Answer(status=500))) as api:
        check = add_check(release, github(cast, api.url), cast.rita, interval_seconds=60)
        gaps = []
        now = timezone.now()
        for _ in range(4):
            run_cycle(now=now)
            check.refresh_from_db()
            gaps.append((known(check.next_poll_at) - now).total_seconds())
            now = known(check.next_poll_at)
            if check.status != "error":
                break

    assert [30 <= gaps[0] <= 60, 60 <= gaps[1] <= 120, 120 <= gaps[2] <= 240] == [True] * 3
    assert 240 <= gaps[3] <= 480
    assert len(api.seen) == 4


def test_errors_past_the_limit_need_a_persons_judgement(cast, release, monkeypatch):
    monkeypatch.setattr(timing, "ERRORS_BEFORE_JUDGEMENT", 3)
    with FakeProvider(Switch(Answer(status=500))) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        now = timezone.now()
        statuses = []
        for n in range(3):
            force_due(check, now + n * HOUR)
            run_cycle(now=now + n * HOUR)
            check.refresh_from_db()
            statuses.append(check.status)

        assert len(api.seen) == 3
    assert statuses == ["error", "error", "needs_judgement"]
    assert check.last_value == "no answer"
    assert "3 attempts in a row" in check.last_detail
