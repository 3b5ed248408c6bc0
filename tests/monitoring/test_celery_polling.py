"""A real Celery worker and beat on Redis poll checks end to end, and survive a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from monitoring import poller
from monitoring.models import Check, CheckResult, PollerHeartbeat
from releases.models import ReleaseEvent
from tests.builders import make_cast, make_release
from tests.monitoring.fakes import Answer, FakeProvider, add_check, check_runs, github

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}")


class Celery:
    """Starts ``celery -A config <command>`` against the test database and Redis."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.TEST_REDIS_URL,
            "POLL_DISPATCH_SECONDS": "1",
            "LOG_LEVEL": "INFO",
            **env,
        }
        self.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a kill reaches the pool's children too.
            start_new_session=True,
        )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
        )

    def beat(self) -> subprocess.Popen:
        return self.start("beat", "beat", "--loglevel=INFO")

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(20)
        process.log.close()  # type: ignore[attr-defined]

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.tmp_path.glob("*.log")
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            process.log.close()  # type: ignore[attr-defined]


@pytest.fixture
def celery(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., Celery]]:
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    made: list[Celery] = []

    def make(**env: str) -> Celery:
        made.append(Celery(tmp_path, **env))
        return made[-1]

    yield make
    for runner in made:
        runner.stop_all()
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()


def green(seen):
    return Answer(body=check_runs(("build", "completed", "success")))


def test_beat_and_a_worker_poll_checks_end_to_end(celery):
    cast = make_cast()
    release = make_release(cast)
    runner = celery()
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        runner.worker("worker")
        runner.beat()

        def passing() -> bool:
            return Check.objects.get(pk=check.pk).status == "passing"

        try:
            wait_for(passing, 60, "the worker to poll the check")
        except AssertionError:
            pytest.fail(runner.logs())

    assert len(api.seen) == 1
    assert PollerHeartbeat.objects.get(name="dispatcher").ran_at is not None
    call_command("check_poller", "--max-age", "30", stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_a_task_on_a_killed_worker_is_delivered_again_and_written_once(celery):
    cast = make_cast()
    release = make_release(cast)
    fetching = threading.Event()
    first = threading.Event()

    def slow_then_green(seen):
        if not first.is_set():
            first.set()
            fetching.set()
            # Hold the first fetch open: its worker dies in the middle of it.
            time.sleep(8)
        return green(seen)

    # Redelivery of an unacknowledged message waits for the broker's visibility timeout:
    # lowered from an hour to a few seconds for the test.
    runner = celery(CELERY_VISIBILITY_TIMEOUT="4")
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
        assert Check.objects.get(pk=check.pk).status == "pending"

        time.sleep(5)  # past the visibility timeout
        runner.worker("survivor")

        def passing() -> bool:
            return Check.objects.get(pk=check.pk).status == "passing"

        try:
            wait_for(passing, 60, "the redelivered task to poll the check")
        except AssertionError:
            pytest.fail(runner.logs())

    # The check was polled by the redelivered task (same claim), not re-dispatched: its lease
    # had minutes to run.
    assert claim is not None
    assert poller.LEASE_SECONDS > 60
    assert len(api.seen) == 2
    assert CheckResult.objects.filter(check_ref=check).count() == 1
    events = ReleaseEvent.objects.filter(release=release, verb="check_status")
    assert [e.summary for e in events] == [
        "Check “GitHub checks”: pending → passing (1 of 1 check run succeeded)"
    ]
