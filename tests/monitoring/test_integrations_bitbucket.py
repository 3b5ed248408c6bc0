from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.bitbucket import BitbucketStatuses
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok, recorded

ADAPTER = BitbucketStatuses()
SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"
CONN = Connection(kind="bitbucket", config={"repo": "acme/payments"}, secrets={"token": "bb-token"})
SPEC = CheckSpec(sha=SHA)


def test_it_reads_the_commits_statuses_with_the_token():
    _, api = observe(ADAPTER, CONN, SPEC, ok("bitbucket", "statuses_success"))
    request = api.last
    assert request.url.path == f"/2.0/repositories/acme/payments/commit/{SHA}/statuses"
    assert request.headers["Authorization"] == "Bearer bb-token"


def test_it_passes_when_every_status_succeeded():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("bitbucket", "statuses_success"))
    assert observation.status == "passing"
    assert observation.value == "2 of 2 builds succeeded"
    assert observation.url == f"https://bitbucket.org/acme/payments/commits/{SHA}"


def test_it_follows_next_and_fails_on_a_failed_status_on_a_later_page():
    observation, api = observe(
        ADAPTER, CONN, SPEC, ok("bitbucket", "statuses_page1"), ok("bitbucket", "statuses_page2")
    )
    assert len(api.requests) == 2
    assert api.requests[1].url.params["page"] == "2"
    assert observation.status == "failing"
    assert observation.detail == "Failed: End-to-end tests (FAILED)"


def test_a_check_reads_one_status_by_key_or_name():
    by_key = CheckSpec(sha=SHA, params={"status": "pipeline-build"})
    by_name = CheckSpec(sha=SHA, params={"status": "End-to-end tests"})
    observations, api = observe_all(
        ADAPTER,
        CONN,
        [by_key, by_name],
        ok("bitbucket", "statuses_page1"),
        ok("bitbucket", "statuses_page2"),
    )
    assert [o.status for o in observations] == ["passing", "failing"]
    assert observations[0].url == "https://bitbucket.org/acme/payments/pipelines/results/412"
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("statuses_in_progress", "pending"),
        ("statuses_stopped", "failing"),
        ("statuses_empty", "pending"),
    ],
)
def test_unfinished_stopped_and_missing_builds_never_pass(name, status):
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("bitbucket", name))
    assert observation.status == status


def test_an_unknown_state_needs_a_person():
    body = recorded("bitbucket", "statuses_success")
    body["values"][0]["state"] = "PAUSED"
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert observation.status == "needs_judgement"


def test_it_does_not_follow_a_next_page_on_another_origin():
    body = recorded("bitbucket", "statuses_page1")
    body["next"] = "https://collector.example/statuses?page=2"
    observation, api = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert len(api.requests) == 1
    assert_error(observation, "unreadable response", False, None)


def test_a_body_without_values_is_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json={"type": "error"}))
    assert_error(observation, "unreadable response", False, None)


def test_a_repository_not_written_workspace_slash_slug_is_misconfigured():
    conn = Connection(kind="bitbucket", config={"repo": "payments"}, secrets={"token": "t"})
    observation, _ = observe(ADAPTER, conn, SPEC, ok("bitbucket", "statuses_success"))
    assert_error(observation, "misconfigured", True, None)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_fails_closed(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_a_403_is_no_access():
    reply = httpx.Response(403, json={"type": "error", "error": {"message": "Access denied"}})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "no access", True, None)
