"""A real Celery worker and beat on Redis poll checks end to end, and survive a killed worker."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.core.management import call_command

from monitoring.models import Check, CheckResult, PollerHeartbeat
from monitoring.services import polling
from releases.models import ReleaseEvent
from tests.builders import make_cast, make_release
from tests.monitoring.fakes import Answer, FakeProvider, add_check, check_runs, github
from tests.processes import wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def green(seen):
    return Answer(body=check_runs(("build", "completed", "success")))


def test_beat_and_the_workers_poll_checks_end_to_end(celery):
    cast = make_cast()
    release = make_release(cast)
    runner = celery()
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        # As production runs them: the default worker takes the dispatcher, the poller (its own
        # queue, a thread pool) the fetches.
        runner.worker("worker", queues="celery")
        runner.poller()
        runner.beat()

        def passing() -> bool:
            return Check.objects.get(pk=check.pk).status == "passing"

        try:
            wait_for(passing, 60, "the worker to poll the check")
        except AssertionError:
            pytest.fail(runner.logs())

    assert len(api.fetches()) == 1
    assert PollerHeartbeat.objects.get(name="dispatcher").ran_at is not None
    assert "monitoring.tasks.poll_group[" in runner.log("poller")
    assert "monitoring.tasks.poll_group[" not in runner.log("worker")
    assert "monitoring.tasks.dispatch_due_checks[" in runner.log("worker")
    call_command("check_poller", "--max-age", "30", stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_a_task_on_a_killed_worker_is_delivered_again_and_written_once(celery):
    cast = make_cast()
    release = make_release(cast)
    fetching = threading.Event()
    killed = threading.Event()
    first_fetch_at: list[float] = []

    def slow_then_green(seen):
        if not first_fetch_at:
            first_fetch_at.append(time.time())
            fetching.set()
            # Hold the first fetch open: its worker dies in the middle of it.
            killed.wait(30)
        return green(seen)

    # Redelivery of an unacknowledged message waits for the broker's visibility timeout:
    # lowered from an hour to two seconds for the test.
    visibility_timeout = 2
    runner = celery(CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout))
    with FakeProvider(slow_then_green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        doomed = runner.worker("doomed")
        runner.beat()
        try:
            wait_for(fetching.is_set, 60, "the first worker to start the fetch")
        except AssertionError:
            pytest.fail(runner.logs())
        claim = Check.objects.get(pk=check.pk).poll_claim
        runner.kill(doomed)  # SIGKILL, mid-task: nothing was acknowledged
        killed.set()
        assert Check.objects.get(pk=check.pk).status == "pending"

        # A starting worker gives back to the queue what was delivered longer than the visibility
        # timeout ago: the survivor starts once that is true of the task the doomed one held
        # (delivered before its fetch began).
        time.sleep(max(0.0, first_fetch_at[0] + visibility_timeout + 0.5 - time.time()))
        runner.worker("survivor")

        def passing() -> bool:
            return Check.objects.get(pk=check.pk).status == "passing"

        try:
            wait_for(passing, 60, "the redelivered task to poll the check")
        except AssertionError:
            pytest.fail(runner.logs())

    # The check was polled by the redelivered task (same claim), not re-dispatched: the
    # redelivery came before the claim's lease lapsed.
    assert claim is not None
    assert polling.LEASE_SECONDS > 5
    assert len(api.fetches()) == 2
    assert CheckResult.objects.filter(check_ref=check).count() == 1
    events = ReleaseEvent.objects.filter(release=release, verb="check_status")
    assert [e.summary for e in events] == [
        "Check “GitHub checks”: pending → passing (1 of 1 check run succeeded)"
    ]


SHORT_LEASE = 3


def test_the_checks_of_a_killed_worker_are_taken_over_within_a_minute(celery):
    cast = make_cast()
    release = make_release(cast)
    fetching = threading.Event()
    killed = threading.Event()

    def held_open_then_green(seen):
        if not fetching.is_set():
            fetching.set()
            # The first fetch never gets its answer in time: its worker dies in the middle.
            killed.wait(30)
        return green(seen)

    # As in production, the broker would redeliver the dead worker's task only after an hour; the
    # claim's lease is shortened from 30 s to 3 so the takeover does not keep the suite waiting.
    runner = celery(POLL_LEASE_SECONDS=str(SHORT_LEASE))
    with FakeProvider(held_open_then_green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        doomed = runner.worker("doomed")
        runner.beat()
        try:
            wait_for(fetching.is_set, 60, "the first worker to start the fetch")
        except AssertionError:
            pytest.fail(runner.logs())
        claim = Check.objects.get(pk=check.pk).poll_claim
        runner.kill(doomed)
        killed_at = time.monotonic()
        killed.set()
        runner.worker("survivor")

        def passing() -> bool:
            return Check.objects.get(pk=check.pk).status == "passing"

        try:
            wait_for(passing, 60, "another worker to take the check over")
        except AssertionError:
            pytest.fail(runner.logs())
        taken_over_after = time.monotonic() - killed_at

    # With production's lease (30 s, this process's) the same takeover is within a minute.
    assert taken_over_after - SHORT_LEASE + polling.LEASE_SECONDS < 60
    # Claimed afresh by the dispatcher and fetched by the survivor.
    assert "monitoring.tasks.poll_group[" in runner.log("survivor")
    assert claim is not None
    assert len(api.fetches()) == 2
    assert CheckResult.objects.filter(check_ref=check).count() == 1
