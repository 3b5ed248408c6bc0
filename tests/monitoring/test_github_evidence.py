"""A GitHub gate against a stand-in for GitHub on 127.0.0.1 that answers like GitHub's REST API
(check runs, combined status, ETags and 304s) while signed webhook deliveries arrive: results
are ordered by GitHub's own facts, and the poll has the last word."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.utils import timezone

from monitoring.models import Check
from monitoring.services.integrations import save_integration
from tests.monitoring.deliveries import SECRET, send_github
from tests.monitoring.fakes import Answer, FakeProvider, Seen, add_check, run_cycle
from tests.monitoring.helpers import recorded


class GitHub:
    """GitHub's answers about one commit: ``runs`` and ``statuses`` as GitHub lists them, an
    ETag per answer that changes when the answer does (304 when the client has it), and
    ``down`` to answer 503 as during an outage."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.down = False

    def __call__(self, seen: Seen) -> Answer:
        if self.down:
            return Answer(status=503, body={"message": "Service Unavailable"})
        if seen.path.endswith("/status"):
            body: dict[str, Any] = {"state": "pending", "statuses": self.statuses}
        else:
            body = {"total_count": len(self.runs), "check_runs": self.runs}
        etag = 'W/"' + hashlib.sha256(json.dumps(body).encode()).hexdigest() + '"'
        if seen.headers.get("if-none-match") == etag:
            return Answer(status=304, headers={"ETag": etag})
        return Answer(body=body, headers={"ETag": etag})


def check_run(sha: str, *, run_id: int, conclusion: str | None, at: str) -> dict[str, Any]:
    """A check run named "build" in the shape of GitHub's ``check_run`` webhook example."""
    run = dict(recorded("github", "webhook_check_run_completed")["check_run"])
    run.update(
        id=run_id,
        name="build",
        head_sha=sha,
        status="completed" if conclusion else "in_progress",
        conclusion=conclusion,
        started_at=at,
        completed_at=at if conclusion else None,
        html_url=f"https://github.com/example/payments/runs/{run_id}",
    )
    return run


def delivery(run: dict[str, Any], action: str = "completed") -> dict[str, Any]:
    payload = recorded("github", "webhook_check_run_completed")
    payload.update(action=action, check_run=run)
    return payload


def integration(cast: Any, url: str) -> Any:
    return save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        base_url=url,
        config={"repo": "example/payments"},
        secrets={"token": "ghp_x", "webhook_secret": SECRET},
    )


def later(seconds: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def state(check: Check) -> str:
    check.refresh_from_db()
    return check.status


def test_a_replayed_success_cannot_turn_a_failing_gate_green(client, cast, release):
    github = GitHub()
    sha = release.commit_sha
    old_success = check_run(sha, run_id=10, conclusion="success", at="2026-12-01T10:00:00Z")
    new_failure = check_run(sha, run_id=11, conclusion="failure", at="2026-12-01T11:00:00Z")
    with FakeProvider(github) as api:
        gh = integration(cast, api.url)
        check = add_check(release, gh, cast.rita, params={"check_name": "build"})
        send_github(client, gh, delivery(old_success))
        assert state(check) == "passing"

        # The commit was built again and failed; GitHub says so, and so does the next poll.
        github.runs = [new_failure]
        send_github(client, gh, delivery(new_failure))
        run_cycle(now=later(61))
        assert state(check) == "failing"

        # The old success, validly signed, replayed under a new delivery id.
        response = send_github(client, gh, delivery(old_success))
        assert response.json()["recorded"] == 0
        assert state(check) == "failing"

        for minutes in range(2, 6):
            run_cycle(now=later(60 * minutes + 1))
            assert state(check) == "failing"


def test_a_webhook_result_does_not_outlive_the_next_poll(client, cast, release):
    github = GitHub()
    sha = release.commit_sha
    github.runs = [check_run(sha, run_id=11, conclusion="failure", at="2026-12-01T11:00:00Z")]
    with FakeProvider(github) as api:
        gh = integration(cast, api.url)
        check = add_check(release, gh, cast.rita, params={"check_name": "build"})
        run_cycle()
        assert state(check) == "failing"

        # A delivery claiming a newer passing run that GitHub's API does not show.
        claimed = check_run(sha, run_id=12, conclusion="success", at="2026-12-01T12:00:00Z")
        send_github(client, gh, delivery(claimed))
        assert state(check) == "passing"

        run_cycle(now=later(61))

    assert state(check) == "failing"
    # The poll read GitHub whole: a 304 never confirmed what only the webhook had said.
    assert [seen.headers.get("if-none-match") for seen in api.seen[-2:]] == [None, None]


def test_a_gate_recovers_after_a_transient_outage(cast, release):
    github = GitHub()
    github.runs = [
        check_run(release.commit_sha, run_id=11, conclusion="success", at="2026-12-01T11:00:00Z")
    ]
    with FakeProvider(github) as api:
        check = add_check(release, integration(cast, api.url), cast.rita)
        run_cycle()
        assert state(check) == "passing"

        github.down = True
        run_cycle(now=later(61))
        assert state(check) == "error"
        assert check.etag == ""

        github.down = False
        run_cycle(now=later(61 + 16 * 60))

    assert state(check) == "passing"
    assert check.last_value == "1 of 1 check run succeeded"


def test_a_304_keeps_a_result_read_from_github(cast, release):
    github = GitHub()
    github.runs = [
        check_run(release.commit_sha, run_id=11, conclusion="failure", at="2026-12-01T11:00:00Z")
    ]
    with FakeProvider(github) as api:
        check = add_check(release, integration(cast, api.url), cast.rita)
        run_cycle()
        run_cycle(now=later(61))

    assert state(check) == "failing"
    assert [seen.headers.get("if-none-match") is not None for seen in api.seen] == [
        False,
        False,
        True,
        True,
    ]


def test_a_rerun_keeps_the_gate_pending_until_its_own_result_is_read(client, cast, release):
    github = GitHub()
    sha = release.commit_sha
    failed = check_run(sha, run_id=11, conclusion="failure", at="2026-12-01T11:00:00Z")
    github.runs = [failed]
    with FakeProvider(github) as api:
        gh = integration(cast, api.url)
        check = add_check(release, gh, cast.rita, params={"check_name": "build"})
        run_cycle()
        assert state(check) == "failing"

        rerequest = delivery(failed, action="rerequested")
        rerequest["sender"]["login"] = "dana-at-github"
        send_github(client, gh, rerequest)
        assert state(check) == "pending"

        # GitHub has not listed the new run yet: the old failure no longer counts.
        run_cycle(now=later(61))
        assert state(check) == "pending"
        assert check.last_detail.startswith("Re-run requested by dana-at-github at ")

        github.runs = [check_run(sha, run_id=12, conclusion=None, at="2026-12-01T12:00:00Z")]
        run_cycle(now=later(122))
        assert state(check) == "pending"
        assert check.last_value == "1 of 1 check run not finished"

        github.runs = [check_run(sha, run_id=12, conclusion="success", at="2026-12-01T12:05:00Z")]
        run_cycle(now=later(183))

    assert state(check) == "passing"
