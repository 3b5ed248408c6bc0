"""The embedded default (SQLite, no Redis) polls too: the dispatcher has no row locks there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.embedded import migrated_sqlite, sqlite_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_demo_checks_poll_on_sqlite(tmp_path, tmp_path_factory):
    database = migrated_sqlite(tmp_path_factory, tmp_path / "demo.sqlite3")
    env = sqlite_env(
        database, DJANGO_SETTINGS_MODULE="config.settings", CELERY_TASK_ALWAYS_EAGER="true"
    )
    manage(env, "seed_demo")

    # The demo's release in monitoring has a health check on the local server: make it due,
    # then run the dispatcher task as beat would send it (eagerly: no broker needed).
    state = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from django.utils import timezone\n"
        "from monitoring.models import Check\n"
        "from monitoring.tasks import dispatch_due_checks\n"
        "due = Check.objects.filter(\n"
        "    release__status='monitoring', integration__kind='http_health')\n"
        "due.update(next_poll_at=timezone.now())\n"
        "dispatch_due_checks()\n"
        "c = due.get()\n"
        "print(c.status, c.last_evaluated_at is not None, c.poll_claim,\n"
        "      c.next_poll_at is not None)",
    ).splitlines()[-1]
    status, evaluated, claim, scheduled = state.split()
    # Nothing serves the demo's URL during the test (error), or something does (passing):
    # either way it was read, the claim released and the next read scheduled.
    assert status in {"error", "passing", "failing"}
    assert (evaluated, claim, scheduled) == ("True", "None", "True")
    assert "dispatcher ran" in manage(env, "check_poller")
    assert "Polled 0 due check(s)" in manage(env, "poll_checks")
