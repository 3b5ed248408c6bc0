"""The gate command other CIs run (``python -m gate.client``, served as greenlight-gate.py),
against a live test server: it waits, then exits 0 after the Go, or non-zero with the blockers
printed after a No-go."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from approvals.services.decisions import record_decision
from gate.services.answer import VERB
from releases.models import ReleaseEvent
from releases.services.lifecycle import lock_scope
from releases.services.tokens import create_api_token
from tests.builders import make_ready, make_release
from tests.processes import ROOT, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SHA = "c" * 40


def argv(live_server, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gate.client",
        "--url",
        live_server.url,
        "--project",
        "payments",
        "--environment",
        "production",
        "--sha",
        SHA,
        "--interval",
        "0.3",
        *extra,
    ]


def start(live_server, secret: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv(live_server, *extra),
        cwd=ROOT,
        env={**os.environ, "GREENLIGHT_TOKEN": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def token(cast) -> str:
    return create_api_token(by=cast.rita, name="jenkins", project=cast.project)[1]


def asked(release) -> bool:
    return ReleaseEvent.objects.filter(release=release, verb=VERB).exists()


def test_it_waits_then_exits_0_after_the_go(cast, live_server) -> None:
    release = make_ready(make_release(cast, sha=SHA), cast)
    command = start(live_server, token(cast), "--timeout", "60")
    try:
        wait_for(lambda: asked(release), 30, "the command's first question")
        assert command.poll() is None  # still waiting

        record_decision(release, by=cast.rita, outcome="go")

        out, _ = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 0, out
    assert "Waiting for Greenlight: Payments 1.0.0" in out
    assert "  - there is no Go decision yet" in out
    assert f"Go: Payments 1.0.0 (commit {SHA[:12]} to production) may deploy now." in out
    states = ReleaseEvent.objects.filter(verb=VERB).order_by("pk").values_list("data__state")
    assert [s for (s,) in states] == ["wait", "go"]


def test_it_exits_1_with_the_blockers_after_a_no_go(cast, live_server) -> None:
    release = make_ready(make_release(cast, sha=SHA), cast)
    command = start(live_server, token(cast), "--timeout", "60")
    try:
        wait_for(lambda: asked(release), 30, "the command's first question")

        record_decision(release, by=cast.rita, outcome="no_go", notes="Ledger drift")

        out, _ = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 1, out
    assert "No-go: Payments 1.0.0" in out
    blockers = [line for line in out.splitlines() if line.startswith("  - a No-go was decided")]
    assert len(blockers) == 1
    assert blockers[0].endswith("Ledger drift")


def test_it_exits_2_when_the_timeout_runs_out(cast, live_server) -> None:
    release = make_release(cast, sha=SHA)
    lock_scope(release, by=cast.rita)

    result = subprocess.run(
        argv(live_server, "--timeout", "1"),
        cwd=ROOT,
        env={**os.environ, "GREENLIGHT_TOKEN": token(cast)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stdout
    assert "still not allowed after 1 seconds" in result.stdout
    assert "  - there is no Go decision yet" in result.stdout


def test_it_exits_3_with_a_wrong_token(cast, live_server) -> None:
    result = subprocess.run(
        argv(live_server, "--timeout", "5"),
        cwd=ROOT,
        env={**os.environ, "GREENLIGHT_TOKEN": "glt_wrong"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert "HTTP 401" in result.stdout
