from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.circleci import CircleCIWorkflows
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok

SHA = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d"
CONN = Connection(
    kind="circleci", config={"project_slug": "gh/acme/shop"}, secrets={"token": "circle-t"}
)
SPEC = CheckSpec(sha=SHA, ref="main")
ADAPTER = CircleCIWorkflows()
PIPELINE_ID = "5034460f-c7c4-4c43-9457-de07e2029e78"


def test_it_passes_when_every_workflow_of_the_commits_pipeline_succeeded():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_success")
    )
    assert observation.status == "passing"
    assert observation.value == "2 of 2 workflows succeeded"
    assert observation.url == "https://app.circleci.com/pipelines/gh/acme/shop/78"


def test_it_lists_pipelines_of_the_branch_then_the_workflows_of_the_match():
    _, api = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_success")
    )
    pipelines, workflows = api.requests
    assert pipelines.url.path == "/api/v2/project/gh/acme/shop/pipeline"
    assert pipelines.url.params["branch"] == "main"
    assert pipelines.headers["Circle-Token"] == "circle-t"
    assert workflows.url.path == f"/api/v2/pipeline/{PIPELINE_ID}/workflow"
    assert workflows.headers["Circle-Token"] == "circle-t"


def test_it_pages_through_pipelines_until_the_commit_turns_up():
    observation, api = observe(
        ADAPTER,
        CONN,
        SPEC,
        ok("circleci", "pipelines_page1"),
        ok("circleci", "pipelines_page2"),
        ok("circleci", "workflows_failed"),
    )
    assert len(api.requests) == 3
    assert "page-token" not in api.requests[0].url.params
    assert api.requests[1].url.params["page-token"] == "AARLwwV4MA2tVs6Kx"
    assert api.requests[1].url.params["branch"] == "main"
    # The newest pipeline of the commit (78, listed before 77) is the one that counts.
    assert api.requests[2].url.path == f"/api/v2/pipeline/{PIPELINE_ID}/workflow"
    assert observation.status == "failing"


def test_it_pages_through_workflows():
    observation, api = observe(
        ADAPTER,
        CONN,
        SPEC,
        ok("circleci", "pipelines_match"),
        ok("circleci", "workflows_page1"),
        ok("circleci", "workflows_page2"),
    )
    assert api.requests[2].url.params["page-token"] == "BBRLwwV4MA2tVs6Kx"
    assert observation.status == "pending"
    assert observation.value == "1 of 2 workflows not finished"
    assert "deploy (on_hold)" in observation.detail


def test_it_fails_when_a_workflow_failed():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_failed")
    )
    assert observation.status == "failing"
    assert "build-and-test (failed)" in observation.detail


def test_it_waits_while_a_workflow_runs():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_running")
    )
    assert observation.status == "pending"


def test_it_counts_only_the_newest_rerun_of_a_workflow():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_rerun")
    )
    assert observation.status == "passing"
    assert observation.value == "2 of 2 workflows succeeded"


def test_it_filters_by_workflow_name():
    spec = CheckSpec(sha=SHA, ref="main", params={"workflow": "lint"})
    observation, _ = observe(
        ADAPTER, CONN, spec, ok("circleci", "pipelines_match"), ok("circleci", "workflows_failed")
    )
    assert observation.status == "passing"
    assert observation.value == "1 of 1 workflow succeeded"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("error", "failing"),
        ("failing", "failing"),
        ("canceled", "failing"),
        ("unauthorized", "failing"),
        ("not_run", "needs_judgement"),
        ("teleported", "needs_judgement"),
    ],
)
def test_it_maps_workflow_statuses(raw, status):
    workflows = {"items": [{"name": "build", "status": raw}], "next_page_token": None}
    observation, _ = observe(
        ADAPTER,
        CONN,
        SPEC,
        ok("circleci", "pipelines_match"),
        httpx.Response(200, json=workflows),
    )
    assert observation.status == status


def test_it_waits_when_no_pipeline_ran_for_the_commit():
    observation, api = observe(ADAPTER, CONN, SPEC, ok("circleci", "pipelines_none"))
    # The branch first, then every pipeline of the project (the ref may be a tag).
    assert [r.url.params.get("branch") for r in api.requests] == ["main", None]
    assert observation.status == "pending"
    assert "No pipeline" in observation.detail


def test_it_finds_the_pipeline_of_a_release_cut_from_a_tag():
    spec = CheckSpec(sha=SHA, ref="v2.0.0")
    observation, api = observe(
        ADAPTER,
        CONN,
        spec,
        ok("circleci", "pipelines_none"),
        ok("circleci", "pipelines_tag"),
        ok("circleci", "workflows_success"),
    )
    assert [r.url.params.get("branch") for r in api.requests[:2]] == ["v2.0.0", None]
    assert api.requests[2].url.path == f"/api/v2/pipeline/{PIPELINE_ID}/workflow"
    assert observation.status == "passing"


@pytest.mark.parametrize(
    "spec",
    [
        CheckSpec(sha=SHA, ref="refs/tags/v2.0.0"),
        CheckSpec(sha=SHA, ref="main", params={"tag": "v2.0.0"}),
    ],
)
def test_a_tag_lists_every_pipeline_and_takes_the_one_of_that_tag(spec):
    observation, api = observe(
        ADAPTER, CONN, spec, ok("circleci", "pipelines_tag"), ok("circleci", "workflows_success")
    )
    assert "branch" not in api.requests[0].url.params
    assert observation.status == "passing"


def test_a_pipeline_of_the_commit_on_a_branch_is_not_the_tags():
    spec = CheckSpec(sha=SHA, ref="refs/tags/v2.0.0")
    observation, api = observe(ADAPTER, CONN, spec, ok("circleci", "pipelines_match"))
    assert len(api.requests) == 1
    assert observation.status == "pending"


def test_it_waits_when_the_pipeline_has_no_workflows_yet():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), ok("circleci", "workflows_empty")
    )
    assert observation.status == "pending"


def test_it_fails_an_errored_pipeline_with_its_message():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("circleci", "pipelines_errored"), ok("circleci", "workflows_empty")
    )
    assert observation.status == "failing"
    assert "Config does not conform to schema" in observation.detail


def test_it_shares_the_requests_between_checks_on_the_same_commit():
    specs = [SPEC, CheckSpec(sha=SHA, ref="main", params={"workflow": "lint"})]
    observations, api = observe_all(
        ADAPTER, CONN, specs, ok("circleci", "pipelines_match"), ok("circleci", "workflows_failed")
    )
    assert len(api.requests) == 2
    assert [o.status for o in observations] == ["failing", "passing"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_failures_of_the_workflow_request_as_errors(
    reply, label, permanent, retry_after
):
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("circleci", "pipelines_match"), reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_needs_a_commit_sha():
    observation, api = observe(ADAPTER, CONN, CheckSpec(ref="main"))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
