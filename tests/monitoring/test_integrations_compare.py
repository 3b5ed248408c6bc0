"""GitHub compare, GitLab compare and Bitbucket commits: the commits between two releases,
grouped into merged pull requests and lone commits, and every failure an error."""

from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import Connection, IntegrationError
from monitoring.integrations.bitbucket_commits import BitbucketCommits
from monitoring.integrations.commits import changes, names_key
from monitoring.integrations.github_compare import GitHubCompare
from monitoring.integrations.gitlab_compare import GitLabCompare
from tests.monitoring.helpers import HTTP_FAILURES, FakeApi, ok, recorded

BASE, HEAD = "b" * 40, "4" * 40
GITHUB = Connection(kind="github", config={"repo": "example/payments"}, secrets={"token": "ghp_x"})
GITLAB = Connection(
    kind="gitlab", config={"project": "example/payments"}, secrets={"token": "glpat-x"}
)
BITBUCKET = Connection(
    kind="bitbucket", config={"repo": "example/payments"}, secrets={"token": "bb-token"}
)
FAILURES = [
    *HTTP_FAILURES,
    pytest.param(
        httpx.Response(403, json={"message": "Resource not accessible"}),
        "no access",
        True,
        None,
        id="403",
    ),
]
HOSTS = [
    pytest.param(GitHubCompare(), GITHUB, id="github"),
    pytest.param(GitLabCompare(), GITLAB, id="gitlab"),
    pytest.param(BitbucketCommits(), BITBUCKET, id="bitbucket"),
]


def compare(host, conn, *replies):
    api = FakeApi(replies)
    with api.client() as client:
        return host.compare(conn, BASE, HEAD, client), api


def test_it_groups_a_github_comparison_into_a_pull_request_and_a_commit():
    compared, api = compare(GitHubCompare(), GITHUB, ok("github", "compare_one_unplanned"))
    assert api.last.url.path == f"/repos/example/payments/compare/{BASE}...{HEAD}"
    assert api.last.headers["Authorization"] == "Bearer ghp_x"
    assert compared.url == f"https://github.com/example/payments/compare/{BASE}...{HEAD}"
    pull, lone = changes(GitHubCompare(), GITHUB, compared.commits)
    assert (pull.ref, pull.title, pull.branch) == (
        "#42",
        "Add the refund endpoint",
        "PAY-1-refunds",
    )
    assert pull.url == "https://github.com/example/payments/pull/42"
    assert pull.keys == {"PAY-1"}
    assert len(pull.shas) == 3
    assert (lone.ref, lone.title, lone.keys) == (
        "4444444444",
        "Raise the payment gateway timeout",
        frozenset(),
    )
    assert lone.author == "dana"


def test_it_follows_the_next_page_of_a_github_comparison():
    link = '<https://api.github.com/repositories/1/compare/x?page=2&per_page=100>; rel="next"'
    compared, api = compare(
        GitHubCompare(),
        GITHUB,
        httpx.Response(200, json=recorded("github", "compare_page1"), headers={"Link": link}),
        ok("github", "compare_page2"),
    )
    assert len(api.requests) == 2
    assert api.requests[1].url.params["page"] == "2"
    assert len(compared.commits) == 4


def test_it_does_not_follow_a_github_page_on_another_origin():
    link = '<https://elsewhere.example/compare?page=2>; rel="next"'
    reply = httpx.Response(200, json=recorded("github", "compare_page1"), headers={"Link": link})
    api = FakeApi([reply])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        GitHubCompare().compare(GITHUB, BASE, HEAD, client)
    assert caught.value.label == "unreadable response"


def test_it_reads_a_squash_merged_pull_request_from_its_title():
    compared, _ = compare(GitHubCompare(), GITHUB, ok("github", "compare_squashed"))
    (change,) = changes(GitHubCompare(), GITHUB, compared.commits)
    assert change.ref == "#43"
    assert change.pull_request


def test_it_groups_a_gitlab_comparison_by_its_merge_request():
    compared, api = compare(GitLabCompare(), GITLAB, ok("gitlab", "compare_one_unplanned"))
    assert api.last.url.raw_path.startswith(
        b"/api/v4/projects/example%2Fpayments/repository/compare?"
    )
    assert api.last.url.params["from"] == BASE
    assert api.last.url.params["to"] == HEAD
    assert api.last.headers["PRIVATE-TOKEN"] == "glpat-x"
    merge, lone = changes(GitLabCompare(), GITLAB, compared.commits)
    assert (merge.ref, merge.branch, merge.keys) == ("#7", "feature/PAY-1-refunds", {"PAY-1"})
    assert merge.url == "https://gitlab.com/example/payments/-/merge_requests/7"
    assert lone.title == "Raise the payment gateway timeout"


def test_it_refuses_a_gitlab_comparison_that_timed_out():
    api = FakeApi([ok("gitlab", "compare_timeout")])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        GitLabCompare().compare(GITLAB, BASE, HEAD, client)
    assert caught.value.label == "unreadable response"


def test_it_follows_bitbucket_pages_and_puts_the_oldest_commit_first():
    compared, api = compare(
        BitbucketCommits(),
        BITBUCKET,
        ok("bitbucket_commits", "commits_page1"),
        ok("bitbucket_commits", "commits_page2"),
    )
    first = api.requests[0]
    assert first.url.path == "/2.0/repositories/example/payments/commits"
    assert first.url.params["include"] == HEAD
    assert first.url.params["exclude"] == BASE
    assert first.headers["Authorization"] == "Bearer bb-token"
    assert api.requests[1].url.params["page"] == "2"
    assert [c.sha[0] for c in compared.commits] == ["1", "2", "3", "4"]
    merge, lone = changes(BitbucketCommits(), BITBUCKET, compared.commits)
    assert (merge.ref, merge.branch) == ("#7", "feature/PAY-1-refunds")
    assert merge.url == "https://bitbucket.org/example/payments/pull-requests/7"
    assert lone.keys == frozenset()


def test_it_uses_a_bitbucket_app_password_without_a_token():
    conn = Connection(
        kind="bitbucket",
        config={"repo": "example/payments"},
        secrets={"username": "dana", "app_password": "app-pw"},
    )
    _, api = compare(BitbucketCommits(), conn, ok("bitbucket_commits", "commits_page2"))
    assert api.last.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(("host", "conn"), HOSTS)
@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_a_comparison_on_every_http_failure(
    host, conn, reply, label, permanent, retry_after
):
    api = FakeApi([reply])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        host.compare(conn, BASE, HEAD, client)
    assert (caught.value.label, caught.value.permanent, caught.value.retry_after) == (
        label,
        permanent,
        retry_after,
    )


@pytest.mark.parametrize(("host", "conn"), HOSTS)
def test_it_refuses_an_answer_without_commits(host, conn):
    api = FakeApi([httpx.Response(200, json={"message": "nothing here"})])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        host.compare(conn, BASE, HEAD, client)
    assert caught.value.label == "unreadable response"


def test_it_matches_keys_and_whole_words_only():
    assert names_key({"PAY-1"}, "", "pay-1")
    assert names_key(set(), "Fix trello.com/c/AbCd1234 card", "AbCd1234")
    assert not names_key(set(), "Fix AbCd12345", "AbCd1234")
    assert not names_key({"PAY-1"}, "", "")
