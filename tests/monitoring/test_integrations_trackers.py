"""Jira, ClickUp and Trello as scope sources: their recorded answers become tracker items, and
every failure is an error, never an empty (and so "all done") scope."""

from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection, IntegrationError
from monitoring.integrations.clickup import ClickUpTasks
from monitoring.integrations.jira import JiraIssues
from monitoring.integrations.trackers import keys_in, kind_for, parse_kind_map
from monitoring.integrations.trello import TrelloCards
from tests.monitoring.helpers import HTTP_FAILURES, FakeApi, observe, ok, recorded

JIRA = Connection(
    kind="jira",
    base_url="https://acme.atlassian.net",
    config={"project_key": "PAY"},
    secrets={"email": "rita@acme.example", "token": "atl-token"},
)
CLICKUP = Connection(
    kind="clickup", config={"workspace_id": "9012345"}, secrets={"token": "pk_123_ABC"}
)
TRELLO = Connection(
    kind="trello",
    config={"board_id": "5abbe4b7ddc1b351ef961413", "done_lists": "5abbe4b7ddc1b351ef961499"},
    secrets={"key": "trello-key", "token": "trello-token"},
)
FAILURES = [
    *HTTP_FAILURES,
    pytest.param(
        httpx.Response(403, json={"errorMessages": ["You do not have permission."]}),
        "no access",
        True,
        None,
        id="403",
    ),
]


def items(adapter, conn, source, query, *replies):
    api = FakeApi(replies)
    with api.client() as client:
        return adapter.items(conn, source, query, client), api


def failure(adapter, conn, source, query, reply):
    api = FakeApi([reply])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        adapter.items(conn, source, query, client)
    return caught.value


# --- Jira ---------------------------------------------------------------------------------------


def test_it_imports_a_jira_fix_version_page_by_page():
    found, api = items(
        JiraIssues(),
        JIRA,
        "fix_version",
        "1.2.0",
        ok("jira", "import_page1"),
        ok("jira", "import_page2"),
    )
    assert [i.key for i in found] == ["PAY-1", "PAY-2", "PAY-3"]
    first = api.requests[0]
    assert first.url.path == "/rest/api/3/search/jql"
    assert first.url.params["jql"] == 'project = "PAY" AND fixVersion = "1.2.0"'
    assert "issuetype" in first.url.params["fields"]
    assert api.requests[1].url.params["nextPageToken"] == "CAEaAggD"
    credentials = base64.b64encode(b"rita@acme.example:atl-token").decode()
    assert first.headers["Authorization"] == f"Basic {credentials}"
    refunds, crash, vault = found
    assert (refunds.title, refunds.done, refunds.status) == ("Refunds", True, "Done")
    assert refunds.url == "https://acme.atlassian.net/browse/PAY-1"
    assert refunds.owner_email == "devin@example.com"
    assert refunds.versions == (("10100", "1.2.0"),)
    assert (crash.done, crash.owner_email, crash.types[0]) == (False, "", "Bug")
    assert vault.types == ("Task", "dependency")


def test_it_sends_a_jql_import_as_written():
    _, api = items(JiraIssues(), JIRA, "jql", 'labels = "r1"', ok("jira", "import_page2"))
    assert api.last.url.params["jql"] == 'labels = "r1"'


def test_it_quotes_a_fix_version_name():
    _, api = items(JiraIssues(), JIRA, "fix_version", 'v"2', ok("jira", "import_page2"))
    assert api.last.url.params["jql"] == 'project = "PAY" AND fixVersion = "v\\"2"'


def test_it_counts_an_issue_without_a_status_as_not_done():
    reply = httpx.Response(200, json={"issues": [{"key": "PAY-9", "fields": {}}], "isLast": True})
    (found,), _ = items(JiraIssues(), JIRA, "jql", "x", reply)
    assert found.done is None


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_a_jira_import_on_every_http_failure(reply, label, permanent, retry_after):
    error = failure(JiraIssues(), JIRA, "fix_version", "1.2.0", reply)
    assert (error.label, error.permanent, error.retry_after) == (label, permanent, retry_after)


def test_it_refuses_a_jira_answer_without_issues():
    error = failure(JiraIssues(), JIRA, "jql", "x", httpx.Response(200, json={"values": []}))
    assert error.label == "unreadable response"


def test_it_releases_a_jira_version():
    api = FakeApi([ok("jira", "version_released")])
    with api.client() as client:
        JiraIssues().release_version(JIRA, "10100", dt.date(2026, 12, 7), client)
    assert api.last.method == "PUT"
    assert api.last.url.path == "/rest/api/3/version/10100"
    assert api.last.read() == b'{"released":true,"releaseDate":"2026-12-07"}'


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_a_version_release_on_every_http_failure(reply, label, permanent, retry_after):
    api = FakeApi([reply])
    with api.client() as client, pytest.raises(IntegrationError) as caught:
        JiraIssues().release_version(JIRA, "10100", dt.date(2026, 12, 7), client)
    assert caught.value.label == label


def test_it_does_not_take_an_unreleased_answer_for_a_release():
    body = {**recorded("jira", "version_released"), "released": False}
    api = FakeApi([httpx.Response(200, json=body)])
    with api.client() as client, pytest.raises(IntegrationError):
        JiraIssues().release_version(JIRA, "10100", dt.date(2026, 12, 7), client)


# --- ClickUp ------------------------------------------------------------------------------------


def test_it_imports_a_clickup_list_page_by_page():
    found, api = items(
        ClickUpTasks(),
        CLICKUP,
        "list",
        "901234567",
        ok("clickup", "tasks_page0"),
        ok("clickup", "tasks_page1"),
    )
    assert [i.key for i in found] == ["CU-86a1b2c3d", "CU-86a1b2c3e", "PAY-3"]
    assert api.requests[0].url.path == "/api/v2/list/901234567/task"
    assert api.requests[0].url.params["page"] == "0"
    assert api.requests[0].url.params["include_closed"] == "true"
    assert api.requests[1].url.params["page"] == "1"
    assert api.requests[0].headers["Authorization"] == "pk_123_ABC"
    refunds, crash, vault = found
    assert (refunds.done, refunds.owner_email, refunds.types) == (
        True,
        "devin@example.com",
        ("feature",),
    )
    assert (crash.done, crash.status) == (False, "in progress")
    assert refunds.url == "https://app.clickup.com/t/86a1b2c3d"
    assert vault.done is False


def test_it_imports_a_clickup_tag_across_the_workspace():
    _, api = items(ClickUpTasks(), CLICKUP, "tag", "release-1.2", ok("clickup", "tasks_page1"))
    assert api.last.url.path == "/api/v2/team/9012345/task"
    assert api.last.url.params["tags[]"] == "release-1.2"


def test_it_imports_a_clickup_view():
    _, api = items(ClickUpTasks(), CLICKUP, "view", "3c-105", ok("clickup", "tasks_page1"))
    assert api.last.url.path == "/api/v2/view/3c-105/task"


def test_it_counts_an_unknown_clickup_status_type_as_not_done():
    task = {"id": "1", "name": "x", "status": {"status": "odd", "type": "mystery"}}
    reply = httpx.Response(200, json={"tasks": [task], "last_page": True})
    (found,), _ = items(ClickUpTasks(), CLICKUP, "list", "1", reply)
    assert found.done is None


def test_it_gives_up_on_endless_clickup_pages():
    reply = httpx.Response(200, json={"tasks": [{"id": "1", "name": "x"}], "last_page": False})
    error = failure(ClickUpTasks(), CLICKUP, "list", "1", reply)
    assert error.label == "unreadable response"


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_a_clickup_import_on_every_http_failure(reply, label, permanent, retry_after):
    error = failure(ClickUpTasks(), CLICKUP, "list", "901234567", reply)
    assert (error.label, error.permanent, error.retry_after) == (label, permanent, retry_after)


def test_it_checks_that_every_clickup_task_is_done():
    spec = CheckSpec(params={"source": "list", "query": "901234567"})
    observation, _ = observe(
        ClickUpTasks(), CLICKUP, spec, ok("clickup", "tasks_page0"), ok("clickup", "tasks_page1")
    )
    assert observation.status == "failing"
    assert observation.value == "2 tasks not done"
    assert "CU-86a1b2c3e Checkout crash" in observation.detail


# --- Trello -------------------------------------------------------------------------------------


def test_it_imports_a_trello_list():
    found, api = items(
        TrelloCards(), TRELLO, "list", "5abbe4b7ddc1b351ef961420", ok("trello", "cards")
    )
    assert api.last.url.path == "/1/lists/5abbe4b7ddc1b351ef961420/cards"
    assert api.last.url.params["key"] == "trello-key"
    assert api.last.url.params["token"] == "trello-token"
    assert [i.key for i in found] == ["AbCd1234", "EfGh5678", "IjKl9012", "MnOp3456"]
    assert [i.done for i in found] == [True, False, False, True]
    assert found[0].url == "https://trello.com/c/AbCd1234"
    assert found[1].types == ("release 1.2.0", "bug")


def test_it_imports_the_cards_of_a_trello_label():
    found, api = items(TrelloCards(), TRELLO, "label", "Release 1.2.0", ok("trello", "cards"))
    assert api.last.url.path == "/1/boards/5abbe4b7ddc1b351ef961413/cards/open"
    assert [i.key for i in found] == ["AbCd1234", "EfGh5678", "MnOp3456"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_a_trello_import_on_every_http_failure(reply, label, permanent, retry_after):
    error = failure(TrelloCards(), TRELLO, "list", "5abbe4b7ddc1b351ef961420", reply)
    assert (error.label, error.permanent, error.retry_after) == (label, permanent, retry_after)


def test_it_refuses_a_trello_answer_that_is_not_a_list_of_cards():
    error = failure(TrelloCards(), TRELLO, "list", "1", httpx.Response(200, json={"cards": []}))
    assert error.label == "unreadable response"


def test_it_needs_a_board_to_import_a_trello_label():
    conn = Connection(kind="trello", secrets=TRELLO.secrets)
    error = failure(TrelloCards(), conn, "label", "x", ok("trello", "cards"))
    assert error.label == "misconfigured"


# --- kinds and keys -----------------------------------------------------------------------------


def test_it_maps_issue_types_and_labels_to_scope_kinds():
    kind_map = parse_kind_map("Spike=risk, Chore = dependency")
    assert kind_for(["Bug"], {}) == "fix"
    assert kind_for(["Story"], {}) == "feature"
    assert kind_for(["Spike"], kind_map) == "risk"
    assert kind_for(["Task", "chore"], kind_map) == "dependency"


def test_it_refuses_a_kind_map_entry_it_cannot_read():
    with pytest.raises(IntegrationError):
        parse_kind_map("Bug=broken")


def test_it_finds_tracker_keys_in_titles_and_branches():
    assert keys_in("Merge pull request #42 from example/PAY-1-refunds") == {"PAY-1"}
    assert keys_in("feature/cu-86a1b2c3d and PAY-12: fix") == {"CU-86A1B2C3D", "PAY-12"}
    assert keys_in("Raise the timeout") == set()
