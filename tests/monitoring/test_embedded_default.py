"""The embedded default (SQLite, no Redis) polls too: the dispatcher has no row locks there."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.embedded import manage, seeded_sqlite

# With `make run`'s test: the demo is seeded on SQLite once for both.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("embedded")]


def test_the_demo_checks_poll_on_sqlite(tmp_path, tmp_path_factory):
    database = seeded_sqlite(tmp_path_factory, tmp_path / "demo.sqlite3")

    # The demo's release in monitoring has a health check on the local server: make it due,
    # then run the dispatcher task as beat would send it (eagerly: no broker needed).
    state = manage(
        database,
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
        CELERY_TASK_ALWAYS_EAGER="true",
    ).splitlines()[-1]
    status, evaluated, claim, scheduled = state.split()
    # Nothing serves the demo's URL during the test (error), or something does (passing):
    # either way it was read, the claim released and the next read scheduled.
    assert status in {"error", "passing", "failing"}
    assert (evaluated, claim, scheduled) == ("True", "None", "True")
    # Both commands look at what the dispatcher left; each starts Django on its own, side by side.
    with ThreadPoolExecutor(2) as commands:
        checked = commands.submit(manage, database, "check_poller", CELERY_TASK_ALWAYS_EAGER="true")
        polled = commands.submit(manage, database, "poll_checks", CELERY_TASK_ALWAYS_EAGER="true")
    assert "dispatcher ran" in checked.result()
    assert "Polled 0 due check(s)" in polled.result()
