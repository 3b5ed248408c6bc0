from __future__ import annotations

import base64

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.jira import JiraIssues
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok

CONN = Connection(
    kind="jira",
    base_url="https://acme.atlassian.net",
    secrets={"email": "rita@acme.example", "token": "atl-token"},
)
JQL = 'fixVersion = "{version}" AND priority = Blocker'
SPEC = CheckSpec(params={"jql": JQL}, version="1.2.0")
ADAPTER = JiraIssues()


def test_it_passes_when_no_matching_issue_is_open():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("jira", "search_all_done"))
    assert observation.status == "passing"
    assert observation.value == "0 open issues"
    assert observation.numeric == 0
    assert observation.url.startswith("https://acme.atlassian.net/issues/?jql=fixVersion")


def test_it_passes_when_nothing_matches():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("jira", "search_empty"))
    assert observation.status == "passing"


def test_it_searches_with_the_release_version_and_basic_auth():
    _, api = observe(ADAPTER, CONN, SPEC, ok("jira", "search_all_done"))
    request = api.last
    assert request.url.path == "/rest/api/3/search/jql"
    assert request.url.params["jql"] == 'fixVersion = "1.2.0" AND priority = Blocker'
    assert request.url.params["fields"] == "summary,status"
    assert "nextPageToken" not in request.url.params
    credentials = base64.b64encode(b"rita@acme.example:atl-token").decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"


def test_it_fails_when_an_issue_is_open_and_names_it():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("jira", "search_one_open"))
    assert observation.status == "failing"
    assert observation.value == "1 open issue"
    assert "REL-7 Crash on login" in observation.detail


def test_it_follows_next_page_tokens_and_counts_every_open_issue():
    observation, api = observe(
        ADAPTER, CONN, SPEC, ok("jira", "search_page1"), ok("jira", "search_page2")
    )
    assert len(api.requests) == 2
    assert api.requests[1].url.params["nextPageToken"] == "CAEaAggD"
    assert api.requests[1].url.params["jql"] == 'fixVersion = "1.2.0" AND priority = Blocker'
    assert observation.status == "failing"
    assert observation.value == "2 open issues"
    assert "REL-7" in observation.detail
    assert "REL-9" in observation.detail
    assert "REL-8" not in observation.detail


def test_it_compares_the_count_with_the_checks_threshold():
    spec = CheckSpec(params={"jql": JQL}, version="1.2.0", comparator="lte", threshold=2)
    observation, _ = observe(
        ADAPTER, CONN, spec, ok("jira", "search_page1"), ok("jira", "search_page2")
    )
    assert observation.status == "passing"
    assert observation.numeric == 2


def test_it_counts_an_issue_without_a_readable_status_as_open():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("jira", "search_odd_status"))
    assert observation.status == "failing"


@pytest.mark.parametrize("category", ["new", "indeterminate", "undefined", "mystery"])
def test_it_counts_every_category_but_done_as_open(category):
    issue = {"key": "REL-1", "fields": {"status": {"statusCategory": {"key": category}}}}
    reply = httpx.Response(200, json={"issues": [issue], "isLast": True})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert observation.status == "failing"


def test_it_gives_up_on_an_endless_search():
    page = {"issues": [], "nextPageToken": "again", "isLast": False}
    observation, api = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=page))
    assert len(api.requests) == 10
    assert_error(observation, "unreadable response", False, None)


def test_it_shares_one_search_between_checks_with_different_thresholds():
    lenient = CheckSpec(params={"jql": JQL}, version="1.2.0", comparator="lte", threshold=5)
    observations, api = observe_all(ADAPTER, CONN, [SPEC, lenient], ok("jira", "search_one_open"))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["failing", "passing"]


def test_it_waits_as_long_as_jiras_reset_header_says():
    reply = httpx.Response(
        429,
        headers={
            "X-RateLimit-Reset": "2023-11-14T22:14:00Z",
            "RateLimit-Reason": "jira-burst-based",
        },
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rate limited", False, 40.0)


def test_it_reports_the_removed_search_endpoints_answer_as_an_error():
    reply = httpx.Response(
        410,
        json={
            "errorMessages": [
                "The requested API has been removed. "
                "Please migrate to the /rest/api/3/search/jql API."
            ]
        },
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rejected", True, None)
    assert "migrate" in observation.detail


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_needs_jql():
    observation, api = observe(ADAPTER, CONN, CheckSpec(version="1.2.0"))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
