from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.gitlab import GitLabPipelines
from tests.monitoring.helpers import HTTP_FAILURES, NOW, assert_error, observe, observe_all, ok

SHA = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d"
CONN = Connection(
    kind="gitlab", config={"project": "test-group/test-project"}, secrets={"token": "glpat-x"}
)
SPEC = CheckSpec(sha=SHA, ref="main")
ADAPTER = GitLabPipelines()


def test_it_passes_when_the_latest_pipeline_succeeded():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_empty")
    )
    assert observation.status == "passing"
    assert observation.value == "pipeline success"
    assert observation.url == "http://127.0.0.1:3000/test-group/test-project/-/pipelines/287"


def test_it_asks_for_the_newest_pipeline_of_the_release_commit():
    _, api = observe(
        ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_empty")
    )
    request = api.requests[0]
    assert request.url.raw_path.startswith(b"/api/v4/projects/test-group%2Ftest-project/pipelines?")
    assert request.url.host == "gitlab.com"
    assert request.url.params["sha"] == SHA
    assert request.url.params["order_by"] == "id"
    assert request.url.params["sort"] == "desc"
    assert request.url.params["per_page"] == "1"
    assert "ref" not in request.url.params
    assert request.headers["PRIVATE-TOKEN"] == "glpat-x"


def test_it_narrows_to_a_ref_when_asked():
    spec = CheckSpec(sha=SHA, params={"ref": "v1.2.0"})
    _, api = observe(
        ADAPTER, CONN, spec, ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_empty")
    )
    assert api.requests[0].url.params["ref"] == "v1.2.0"


def test_it_uses_a_numeric_project_id_as_is():
    conn = Connection(kind="gitlab", config={"project": 21}, secrets={"token": "glpat-x"})
    _, api = observe(
        ADAPTER, conn, SPEC, ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_empty")
    )
    assert api.requests[0].url.path == "/api/v4/projects/21/pipelines"
    assert api.requests[1].url.path == "/api/v4/projects/21/pipelines/287/bridges"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("pipelines_failed", "failing"),
        ("pipelines_running", "pending"),
        ("pipelines_manual", "pending"),
        ("pipelines_skipped", "needs_judgement"),
        ("pipelines_unknown", "needs_judgement"),
    ],
)
def test_it_maps_pipeline_statuses(name, status):
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("gitlab", name))
    assert observation.status == status


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("canceled", "failing"),
        ("created", "pending"),
        ("waiting_for_resource", "pending"),
        ("preparing", "pending"),
        ("pending", "pending"),
        ("scheduled", "pending"),
        (None, "needs_judgement"),
    ],
)
def test_it_maps_every_documented_status(raw, status):
    body = [{"id": 1, "sha": SHA, "ref": "main", "status": raw}]
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert observation.status == status


def test_it_waits_when_no_pipeline_ran_for_the_commit():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_empty"))
    assert observation.status == "pending"
    assert observation.value == "no pipeline yet"


def test_it_names_an_unrecognised_status():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_unknown"))
    assert "'quantum'" in observation.detail


def test_it_shares_one_request_between_checks_on_the_same_commit():
    observations, api = observe_all(
        ADAPTER, CONN, [SPEC, CheckSpec(sha=SHA, ref="main")], ok("gitlab", "pipelines_failed")
    )
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["failing", "failing"]


def test_it_waits_as_long_as_gitlabs_reset_header_says():
    reply = httpx.Response(
        429,
        headers={"RateLimit-Reset": str(int(NOW) + 42), "RateLimit-Remaining": "0"},
        text="Retry later",
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rate limited", False, 42.0)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_reports_a_body_that_is_not_a_list_as_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json={"message": "?"}))
    assert_error(observation, "unreadable response", False, None)


def test_it_needs_a_commit_sha():
    observation, api = observe(
        ADAPTER, CONN, CheckSpec(), ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_empty")
    )
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []


# --- child pipelines ---------------------------------------------------------------------------


def test_it_reads_the_trigger_jobs_of_a_successful_pipeline():
    observation, api = observe(
        ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_success"), ok("gitlab", "bridges_success")
    )
    bridges = api.requests[1]
    assert (
        bridges.url.raw_path
        == b"/api/v4/projects/test-group%2Ftest-project/pipelines/287/bridges?per_page=100"
    )
    assert bridges.headers["PRIVATE-TOKEN"] == "glpat-x"
    assert observation.status == "passing"
    assert (
        observation.detail == "Pipeline #287 on main is success, and its 1 child pipeline(s) too."
    )


@pytest.mark.parametrize(
    ("bridges", "status", "detail"),
    [
        (
            "bridges_running",
            "pending",
            "Pipeline #287 on main is success, but child pipeline #5 (from “teaspoon”) is running.",
        ),
        (
            "bridges_pending",
            "pending",
            "Pipeline #287 on main is success, but child pipeline #5 (from “teaspoon”) is pending.",
        ),
        (
            "bridges_failed",
            "failing",
            "Pipeline #287 on main is success, but child pipeline #5 (from “teaspoon”) is failed.",
        ),
        (
            "bridges_not_started",
            "pending",
            "Pipeline #287 on main is success, but trigger job “teaspoon” has not started its "
            "child pipeline.",
        ),
    ],
)
def test_a_successful_parent_does_not_pass_while_a_child_runs_or_failed(bridges, status, detail):
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_success"), ok("gitlab", bridges)
    )
    assert (observation.status, observation.detail) == (status, detail)
    assert observation.value.startswith("child pipeline ")


def test_a_failed_parent_is_failing_without_asking_for_its_children():
    observation, api = observe(ADAPTER, CONN, SPEC, ok("gitlab", "pipelines_failed"))
    assert observation.status == "failing"
    assert len(api.requests) == 1


def test_an_unreadable_answer_about_the_children_is_an_error():
    observation, _ = observe(
        ADAPTER,
        CONN,
        SPEC,
        ok("gitlab", "pipelines_success"),
        httpx.Response(200, json={"message": "nope"}),
    )
    assert observation.status == "error"
