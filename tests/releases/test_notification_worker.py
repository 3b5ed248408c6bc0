"""The real pipeline: a committed change enqueues its notifications on Redis, a Celery worker
delivers them, and a webhook that fails is retried later by the worker until it accepts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from approvals.services.sign_offs import record_sign_off
from config.celery import app
from releases.models import Notification
from releases.services.lifecycle import lock_scope
from releases.services.projects import update_project
from tests.builders import make_cast, make_release
from tests.local_servers import WebhookServer, serving

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def worker(monkeypatch) -> Iterator[subprocess.Popen]:
    """A Celery worker on the test Redis and the test database, with production settings."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.TEST_REDIS_URL,
        "EMAIL_URL": "",
        # The stand-ins listen on loopback, which the egress policy refuses by default.
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    # The test process sends for real instead of running tasks inline.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        yield process
    finally:
        # Killed: how it stops is not what the test proves, and a warm shutdown followed by the
        # interpreter's exit takes seconds.
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        connection.close()


def wait_for(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_it_delivers_after_commit_and_retries_a_failing_webhook_in_the_worker(worker):
    cast = make_cast()
    release = make_release(cast)
    lock_scope(release, by=cast.rita)
    with serving(WebhookServer([503, 503, 200])) as hook:
        update_project(cast.project, by=cast.rita, slack_webhook_url=hook.url)
        sign_off = record_sign_off(
            release, by=cast.quinn, role="qa", decision="no_go", comment="Refunds fail"
        )
        # The change is done and visible while delivery is still to come.
        assert sign_off.pk is not None
        assert Notification.objects.filter(user=cast.rita, verb="no_go").exists()

        delivered = wait_for(lambda: len(hook.received) >= 3)
        assert delivered, f"webhook saw {len(hook.received)} tries; worker: {worker.poll()}"
        time.sleep(1)  # nothing more arrives after the accepted try
        assert len(hook.received) == 3
        assert {m["text"] for m in hook.received} == {
            f"quinn said No-go as QA on {release}: Refunds fail "
            f"<http://127.0.0.1:8000/releases/{release.pk}/|Open in Greenlight>"
        }
    assert wait_for(
        lambda: Notification.objects.get(user=cast.rita, verb="no_go").emailed_at is not None
    )
