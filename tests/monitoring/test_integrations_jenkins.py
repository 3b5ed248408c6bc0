from __future__ import annotations

import base64

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.jenkins import JenkinsBuild, job_path
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, recorded

CONN = Connection(
    kind="jenkins",
    base_url="https://ci.example.com/",
    config={"job": "shop/main"},
    secrets={"user": "greenlight", "token": "11aa22bb"},
)
# The commit the recorded builds checked out (their Git plugin's BuildData action).
SHA = "9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4"
SPEC = CheckSpec(sha=SHA)
ADAPTER = JenkinsBuild()


def job(*builds: dict) -> httpx.Response:
    """The job's answer to ``tree=builds[...]{0,25}``: its recent builds, newest first."""
    return httpx.Response(200, json={"_class": "hudson.model.FreeStyleProject", "builds": builds})


def run(result: str = "SUCCESS", *, sha: str | None = SHA, number: int = 7) -> dict:
    actions: list[dict] = [{"_class": "hudson.model.CauseAction"}]
    if sha is not None:
        actions.append(
            {"_class": "hudson.plugins.git.util.BuildData", "lastBuiltRevision": {"SHA1": sha}}
        )
    return {
        "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
        "number": number,
        "building": False,
        "result": result,
        "url": f"https://ci.example.com/job/shop/job/main/{number}/",
        "actions": actions,
    }


def build(result: str = "SUCCESS", *, sha: str | None = SHA) -> httpx.Response:
    return job(run(result, sha=sha))


def test_it_passes_on_a_successful_last_build():
    observation, _ = observe(ADAPTER, CONN, SPEC, job(recorded("jenkins", "build_success")))
    assert observation.status == "passing"
    assert observation.value == "SUCCESS"
    assert observation.detail == "Build #42 finished SUCCESS."
    assert observation.url == "https://ci.example.com/job/shop/job/main/42/"


def test_it_asks_for_the_recent_builds_of_the_nested_job_with_basic_auth():
    _, api = observe(ADAPTER, CONN, SPEC, job(recorded("jenkins", "build_success")))
    request = api.last
    assert request.url.path == "/job/shop/job/main/api/json"
    assert request.url.params["tree"] == (
        "builds[number,result,building,timestamp,duration,url,actions[lastBuiltRevision[SHA1]]]"
        "{0,25}"
    )
    expected = base64.b64encode(b"greenlight:11aa22bb").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_it_lets_the_check_pick_another_job():
    spec = CheckSpec(params={"job": "shop/release", "build": "lastCompletedBuild"})
    _, api = observe(ADAPTER, CONN, spec, job(recorded("jenkins", "build_success")))
    assert api.last.url.path == "/job/shop/job/release/api/json"


def test_a_later_commits_build_does_not_hide_the_build_of_the_release_commit():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, job(run("SUCCESS", sha="0" * 40, number=8), run("FAILURE"))
    )
    assert observation.status == "failing"
    assert observation.detail == "Build #7 finished FAILURE."
    assert observation.url == "https://ci.example.com/job/shop/job/main/7/"


def test_the_newest_build_of_the_release_commit_decides():
    observation, _ = observe(
        ADAPTER,
        CONN,
        SPEC,
        job(run("SUCCESS", number=9), run("SUCCESS", sha="0" * 40, number=8), run("FAILURE")),
    )
    assert observation.status == "passing"
    assert observation.detail == "Build #9 finished SUCCESS."


def test_the_last_completed_build_of_the_release_commit_skips_one_still_running():
    running = run("SUCCESS", number=9) | {"building": True, "result": None}
    spec = CheckSpec(sha=SHA, params={"build": "lastCompletedBuild"})
    observation, _ = observe(ADAPTER, CONN, spec, job(running, run("FAILURE")))
    assert observation.status == "failing"
    observation, _ = observe(ADAPTER, CONN, SPEC, job(running, run("FAILURE")))
    assert observation.status == "pending"


def test_it_waits_when_no_recent_build_is_of_the_release_commit():
    observation, _ = observe(ADAPTER, CONN, SPEC, job(run(sha="0" * 40, number=8)))
    assert observation.status == "pending"
    assert observation.value == "other commit"


def test_a_job_without_builds_is_pending():
    observation, _ = observe(ADAPTER, CONN, SPEC, job())
    assert observation.status == "pending"
    assert observation.value == "no builds"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("build_failure", "failing"),
        ("build_unstable", "failing"),
        ("build_aborted", "failing"),
        ("build_building", "pending"),
        ("build_unknown", "needs_judgement"),
        ("build_no_result", "needs_judgement"),
    ],
)
def test_it_maps_build_results(name, status):
    observation, _ = observe(ADAPTER, CONN, SPEC, job(recorded("jenkins", name)))
    assert observation.status == status


def test_it_waits_for_a_build_of_the_release_commit():
    observation, _ = observe(ADAPTER, CONN, SPEC, build(sha="0" * 40))
    assert observation.status == "pending"
    assert observation.value == "other commit"
    assert observation.detail == (
        "None of the last 1 builds built this release's commit 9f2c4e1b7a0d (the newest, #7, "
        "built 000000000000); waiting for a build of it."
    )


def test_a_failed_build_of_another_commit_says_nothing_about_this_release():
    observation, _ = observe(ADAPTER, CONN, SPEC, build("FAILURE", sha="0" * 40))
    assert observation.status == "pending"


def test_it_matches_an_abbreviated_release_commit():
    spec = CheckSpec(sha=SHA[:10].upper())
    observation, _ = observe(ADAPTER, CONN, spec, build())
    assert observation.status == "passing"
    too_short = CheckSpec(sha=SHA[:4])
    observation, _ = observe(ADAPTER, CONN, too_short, build())
    assert observation.status == "pending"


def test_a_success_that_names_no_commit_needs_judgement():
    observation, _ = observe(ADAPTER, CONN, SPEC, build(sha=None))
    assert observation.status == "needs_judgement"
    assert "does not say which commit it built" in observation.detail


def test_a_failure_that_names_no_commit_still_fails():
    observation, _ = observe(ADAPTER, CONN, SPEC, build("FAILURE", sha=None))
    assert observation.status == "failing"


def test_a_success_cannot_count_for_a_release_without_a_commit():
    observation, _ = observe(ADAPTER, CONN, CheckSpec(), build())
    assert observation.status == "needs_judgement"
    assert "the release has no commit SHA" in observation.detail


@pytest.mark.parametrize("sha", [None, "0" * 40])
def test_a_check_on_any_commit_takes_the_last_build_as_it_is(sha):
    spec = CheckSpec(sha=SHA, params={"any_commit": "yes"})
    observation, _ = observe(ADAPTER, CONN, spec, build(sha=sha))
    assert observation.status == "passing"
    assert observation.detail == "Build #7 finished SUCCESS."


def test_it_fails_a_build_that_was_not_built():
    body = {"number": 7, "building": False, "result": "NOT_BUILT", "url": "https://ci/7/"}
    observation, _ = observe(ADAPTER, CONN, SPEC, job(body))
    assert observation.status == "failing"


def test_it_waits_while_building_even_if_a_result_is_set():
    body = {"number": 7, "building": True, "result": "SUCCESS", "url": "https://ci/7/"}
    observation, _ = observe(ADAPTER, CONN, SPEC, job(body))
    assert observation.status == "pending"


def test_it_builds_job_paths():
    assert job_path("app") == "/job/app"
    assert job_path("/folder/app/") == "/job/folder/job/app"
    assert job_path("job/folder/job/my app") == "/job/folder/job/my%20app"


def test_it_shares_one_request_between_checks_on_the_same_job():
    observations, api = observe_all(
        ADAPTER,
        CONN,
        [SPEC, CheckSpec(params={"job": "shop/main"})],
        job(recorded("jenkins", "build_failure")),
    )
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["failing", "failing"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_reports_a_login_page_as_an_error():
    reply = httpx.Response(200, text="<html><body>Sign in</body></html>")
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "unreadable response", False, None)


def test_it_needs_a_job():
    conn = Connection(kind="jenkins", base_url="https://ci.example.com", secrets=CONN.secrets)
    observation, api = observe(ADAPTER, conn, SPEC, job(recorded("jenkins", "build_success")))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []


def test_it_refuses_an_unknown_build_selector():
    spec = CheckSpec(params={"build": "firstBuild"})
    observation, api = observe(ADAPTER, CONN, spec, job(recorded("jenkins", "build_success")))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
