from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.github import GitHubChecks
from tests.builders import known
from tests.monitoring.helpers import (
    HTTP_FAILURES,
    FakeApi,
    Reply,
    assert_error,
    observe,
    observe_all,
    ok,
    recorded,
)

SHA = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d"
CONN = Connection(kind="github", config={"repo": "acme/shop"}, secrets={"token": "ghp_token"})
SPEC = CheckSpec(sha=SHA, ref="main")
ADAPTER = GitHubChecks()
RUNS_URL = f"https://api.github.com/repos/acme/shop/commits/{SHA}/check-runs"
STATUS_URL = f"https://api.github.com/repos/acme/shop/commits/{SHA}/status"
EMPTY = ok("github", "combined_status_empty")


def runs(*replies: Reply, status: Reply = EMPTY) -> Callable[[httpx.Request], httpx.Response]:
    """GitHub answering the check-runs list with ``replies`` in turn and the combined status
    with ``status``."""
    check_runs, statuses = FakeApi(replies), FakeApi([status])

    def answer(request: httpx.Request) -> httpx.Response:
        return (statuses if request.url.path.endswith("/status") else check_runs)(request)

    return answer


def test_it_passes_when_every_check_run_succeeded():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_success")))
    assert observation.status == "passing"
    assert observation.value == "5 of 5 check runs succeeded"
    assert observation.url == f"https://github.com/acme/shop/commit/{SHA}/checks"


def test_it_asks_for_the_check_runs_of_the_release_commit_with_the_documented_headers():
    _, api = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_success")))
    request = api.requests[0]
    assert str(request.url).startswith(RUNS_URL)
    assert request.url.params["per_page"] == "100"
    assert request.headers["Authorization"] == "Bearer ghp_token"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "If-None-Match" not in request.headers


def test_it_fails_when_any_check_run_failed():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_failure")))
    assert observation.status == "failing"
    assert observation.value == "2 of 3 check runs failed"
    assert "unit-tests (failure)" in observation.detail
    assert "integration-tests (timed_out)" in observation.detail


@pytest.mark.parametrize(
    "conclusion",
    ["failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"],
)
def test_it_fails_on_every_failing_conclusion(conclusion):
    body = {
        "total_count": 1,
        "check_runs": [{"name": "ci", "status": "completed", "conclusion": conclusion}],
    }
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(httpx.Response(200, json=body)))
    assert observation.status == "failing"


def test_it_waits_while_check_runs_are_queued_or_running():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_in_progress")))
    assert observation.status == "pending"
    assert observation.value == "2 of 3 check runs not finished"


def test_it_waits_when_no_check_run_has_reported_yet():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_empty")))
    assert observation.status == "pending"
    assert observation.value == "no check runs yet"


def test_it_cannot_judge_an_unknown_conclusion():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(ok("github", "check_runs_unknown")))
    assert observation.status == "needs_judgement"
    assert "unit-tests (exploded)" in observation.detail


def test_it_cannot_judge_an_unknown_status():
    body = {"total_count": 1, "check_runs": [{"name": "ci", "status": "levitating"}]}
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(httpx.Response(200, json=body)))
    assert observation.status == "needs_judgement"


def test_it_filters_by_check_name():
    spec = CheckSpec(sha=SHA, params={"check_name": "lint"})
    observation, _ = observe(ADAPTER, CONN, spec, runs(ok("github", "check_runs_failure")))
    assert observation.status == "passing"
    assert observation.value == "1 of 1 check run succeeded"
    assert observation.url == "https://github.com/acme/shop/runs/5"


def test_it_waits_for_a_named_check_that_has_not_reported():
    spec = CheckSpec(sha=SHA, params={"check_name": "e2e"})
    observation, _ = observe(ADAPTER, CONN, spec, runs(ok("github", "check_runs_success")))
    assert observation.status == "pending"
    assert "'e2e'" in observation.detail


def test_it_follows_the_link_header_to_the_next_page():
    next_url = f"https://api.github.com/repositories/42/commits/{SHA}/check-runs?per_page=2&page=2"
    first = ok(
        "github",
        "check_runs_page1",
        headers={"Link": f'<{next_url}>; rel="next", <{next_url}>; rel="last"', "ETag": '"p1"'},
    )
    observation, api = observe(
        ADAPTER, CONN, SPEC, runs(first, ok("github", "check_runs_page2"), status=EMPTY)
    )
    assert len(api.requests) == 3
    assert str(api.requests[1].url) == next_url
    assert api.requests[1].headers["Authorization"] == "Bearer ghp_token"
    assert observation.status == "failing"
    assert observation.value == "1 of 3 check runs failed"
    # An ETag covers only its page: with several pages there is nothing safe to send next time.
    assert observation.etag is None


def test_it_does_not_carry_the_token_to_a_next_page_on_another_origin():
    elsewhere = f"https://collector.example.net/commits/{SHA}/check-runs?page=2"
    first = ok("github", "check_runs_page1", headers={"Link": f'<{elsewhere}>; rel="next"'})
    observation, api = observe(
        ADAPTER, CONN, SPEC, runs(first, ok("github", "check_runs_page2"), status=EMPTY)
    )

    assert all("collector.example.net" not in str(request.url) for request in api.requests)
    assert observation.status == "error"
    assert "another origin" in observation.detail


def test_it_returns_the_etags_of_both_single_page_lists():
    reply = ok("github", "check_runs_success", headers={"ETag": 'W/"abc123"'})
    status = ok("github", "combined_status_empty", headers={"ETag": 'W/"def456"'})
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(reply, status=status))
    assert json.loads(known(observation.etag)) == ['W/"abc123"', 'W/"def456"']


def test_it_reports_unchanged_when_neither_list_changed():
    specs = [SPEC, CheckSpec(sha=SHA, params={"check_name": "lint"})]
    etag = json.dumps(['W/"abc123"', 'W/"def456"'])
    observations, api = observe_all(
        ADAPTER,
        CONN,
        specs,
        runs(
            httpx.Response(304, headers={"ETag": 'W/"abc123"'}),
            status=httpx.Response(304, headers={"ETag": 'W/"def456"'}),
        ),
        etag=etag,
    )
    assert [r.headers["If-None-Match"] for r in api.requests] == ['W/"abc123"', 'W/"def456"']
    for observation in observations:
        assert observation.unchanged is True
        assert observation.status != "passing"
        assert observation.etag == etag


def test_it_reads_the_unchanged_list_again_when_the_other_changed():
    etag = json.dumps(['W/"abc123"', 'W/"def456"'])
    observation, api = observe(
        ADAPTER,
        CONN,
        SPEC,
        runs(
            httpx.Response(304, headers={"ETag": 'W/"abc123"'}),
            ok("github", "check_runs_success", headers={"ETag": 'W/"abc123"'}),
            status=ok("github", "combined_status_failure", headers={"ETag": 'W/"new"'}),
        ),
        etag=etag,
    )
    assert len(api.requests) == 3
    assert "If-None-Match" not in api.requests[2].headers
    assert observation.unchanged is False
    assert observation.status == "failing"
    assert "continuous-integration/jenkins (failure)" in observation.detail


def test_it_reads_the_combined_status_of_the_release_commit():
    observation, api = observe(
        ADAPTER,
        CONN,
        SPEC,
        runs(ok("github", "check_runs_success"), status=ok("github", "combined_status_failure")),
    )
    assert [str(r.url).split("?")[0] for r in api.requests] == [RUNS_URL, STATUS_URL]
    assert observation.status == "failing"
    assert observation.value == "1 of 7 checks failed"


def test_it_passes_a_check_named_after_a_status_context():
    spec = CheckSpec(sha=SHA, params={"check_name": "continuous-integration/jenkins"})
    observation, _ = observe(
        ADAPTER,
        CONN,
        spec,
        runs(ok("github", "check_runs_failure"), status=ok("github", "combined_status_success")),
    )
    assert observation.status == "passing"
    assert observation.value == "1 of 1 status succeeded"
    assert observation.url == "https://ci.example.com/1000/output"


def test_it_fails_a_check_named_after_a_failed_status_context():
    spec = CheckSpec(sha=SHA, params={"check_name": "continuous-integration/jenkins"})
    observation, _ = observe(
        ADAPTER,
        CONN,
        spec,
        runs(ok("github", "check_runs_success"), status=ok("github", "combined_status_failure")),
    )
    assert observation.status == "failing"


@pytest.mark.parametrize(("state", "expected"), [("pending", "pending"), ("error", "failing")])
def test_it_judges_every_commit_status_state(state, expected):
    body = recorded("github", "combined_status_success")
    body["statuses"][0]["state"] = state
    spec = CheckSpec(sha=SHA, params={"check_name": "continuous-integration/jenkins"})
    observation, _ = observe(
        ADAPTER,
        CONN,
        spec,
        runs(ok("github", "check_runs_empty"), status=httpx.Response(200, json=body)),
    )
    assert observation.status == expected


def test_it_states_the_newest_provider_fact_behind_the_result():
    spec = CheckSpec(sha=SHA, params={"check_name": "continuous-integration/jenkins"})
    observation, _ = observe(
        ADAPTER,
        CONN,
        spec,
        runs(ok("github", "check_runs_success"), status=ok("github", "combined_status_failure")),
    )
    assert known(observation.evidence).run == "status:3"
    assert known(known(observation.evidence).at).isoformat() == "2012-09-20T01:19:13+00:00"


def test_it_treats_an_exhausted_rate_limit_403_as_a_rate_limit():
    reply = httpx.Response(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000600"},
        json={"message": "API rate limit exceeded"},
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(reply))
    assert_error(observation, "rate limited", False, 600.0)


def test_it_treats_another_403_as_no_access():
    reply = httpx.Response(403, json={"message": "Resource not accessible by integration"})
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(reply))
    assert_error(observation, "no access", True, None)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(reply))
    assert_error(observation, label, permanent, retry_after)


def test_it_reports_a_body_without_check_runs_as_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, runs(httpx.Response(200, json={"message": "hm"})))
    assert observation.status == "error"


def test_it_needs_a_commit_sha():
    observation, api = observe(
        ADAPTER, CONN, CheckSpec(ref="main"), ok("github", "check_runs_success")
    )
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []


def test_it_talks_to_github_enterprise_server():
    conn = Connection(
        kind="github",
        base_url="https://ghe.example.com/api/v3/",
        config={"repo": "acme/shop"},
        secrets={"token": "t"},
    )
    observation, api = observe(ADAPTER, conn, SPEC, runs(ok("github", "check_runs_success")))
    assert str(api.requests[0].url).startswith(
        f"https://ghe.example.com/api/v3/repos/acme/shop/commits/{SHA}"
    )
    assert observation.url == f"https://ghe.example.com/acme/shop/commit/{SHA}/checks"
