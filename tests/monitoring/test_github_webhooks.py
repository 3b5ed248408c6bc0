"""GitHub deliveries about a commit's checks, from GitHub's published payload examples: statuses
and check runs named by one rule, results ordered by GitHub's facts, re-runs taking the old
result away."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from monitoring.models import Check
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from tests.builders import known, make_cast, make_release
from tests.monitoring.deliveries import SECRET, send_github
from tests.monitoring.helpers import recorded


def add(release: Any, integration: Any, cast: Any, name: str, **params: Any) -> Check:
    return save_release_check(
        release, by=cast.rita, integration=integration, name=name, params=params
    )


def example(name: str, sha: str) -> dict[str, Any]:
    """A published example with the release's commit in it."""
    payload = recorded("github", f"webhook_{name}")
    for key in ("check_run", "check_suite", "workflow_run"):
        if key in payload:
            payload[key]["head_sha"] = sha
    if "context" in payload:
        payload["sha"] = sha
    return payload


def reload(check: Check) -> Check:
    check.refresh_from_db()
    return check


def not_due_soon(check: Check) -> None:
    Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now() + dt.timedelta(minutes=10))


# --- commit statuses ----------------------------------------------------------------------------


def test_one_event_reaches_every_project_whose_webhook_it_was_sent_to(
    client, cast, release, github
):
    # GitHub gives every webhook the event's own delivery id: two projects built from one
    # repository receive the same id, and neither delivery is the other's replay.
    other = make_cast("checkout")
    theirs = make_release(other, sha=release.commit_sha)
    their_github = save_integration(
        other.project,
        by=other.rita,
        name="GitHub",
        kind="github",
        config={"repo": "example/payments"},
        secrets={"token": "ghp_y", "webhook_secret": SECRET},
    )
    ours = add(release, github, cast, "Default", check_name="default")
    their_check = add(theirs, their_github, other, "Default", check_name="default")
    failed = example("status", release.commit_sha) | {"state": "failure"}
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

    send_github(client, github, failed, event="status", delivery=delivery)
    answer = send_github(client, their_github, failed, event="status", delivery=delivery)

    assert answer.json()["outcome"] == "recorded"
    assert reload(ours).status == "failing"
    assert reload(their_check).status == "failing"
    replayed = send_github(client, their_github, failed, event="status", delivery=delivery)
    assert replayed.json()["outcome"] == "duplicate"


def test_a_status_event_updates_the_check_named_after_its_context(client, cast, release, github):
    ci = add(release, github, cast, "Default", check_name="default")
    lint = add(release, github, cast, "Lint", check_name="lint")
    failed = example("status", release.commit_sha) | {"state": "failure"}

    response = send_github(client, github, failed, event="status")

    assert response.json()["recorded"] == 1
    assert reload(ci).status == "failing"
    assert ci.last_value == "default: failure"
    assert reload(lint).status == "pending"


def test_a_result_for_the_same_commit_in_another_repository_changes_no_check(
    client, cast, release, github
):
    ci = add(release, github, cast, "Default", check_name="default")
    elsewhere = example("status", release.commit_sha)

    answer = send_github(
        client, github, elsewhere, event="status", repository="someone/payments-fork"
    )

    assert answer.json()["outcome"] == "ignored"
    assert reload(ci).status == "pending"


def test_a_successful_status_passes_its_check_until_the_poll_confirms(
    client, cast, release, github
):
    ci = add(release, github, cast, "Default", check_name="default")
    not_due_soon(ci)

    send_github(client, github, example("status", release.commit_sha), event="status")

    assert reload(ci).status == "passing"
    assert known(ci.next_poll_at) <= timezone.now()  # read at once to confirm


def test_an_older_status_of_a_context_does_not_replace_a_newer_one(client, cast, release, github):
    ci = add(release, github, cast, "Default", check_name="default")
    newer = example("status", release.commit_sha) | {
        "id": 6805126731,
        "state": "failure",
        "updated_at": "2019-05-15T15:30:00+00:00",
    }
    send_github(client, github, newer, event="status")

    response = send_github(client, github, example("status", release.commit_sha), event="status")

    assert response.json()["recorded"] == 0
    assert reload(ci).status == "failing"


# --- one naming rule ----------------------------------------------------------------------------


def test_a_workflow_run_does_not_pass_a_check_named_after_the_workflow(
    client, cast, release, github
):
    """The poll lists check runs by job name; a workflow's name would pass here and go back to
    pending at the next poll."""
    ci = add(release, github, cast, "CI", check_name="CI")
    not_due_soon(ci)
    payload = example("workflow_run_completed", release.commit_sha)
    payload["workflow_run"]["name"] = payload["workflow"]["name"] = "CI"

    response = send_github(client, github, payload, event="workflow_run")

    assert response.json() == {
        "outcome": "recorded",
        "recorded": 0,
        "polling": 1,
        "detail": "",
        "changes": [],
    }
    assert reload(ci).status == "pending"
    assert known(ci.next_poll_at) <= timezone.now()


def test_a_check_run_passes_the_check_named_after_it(client, cast, release, github):
    linter = add(release, github, cast, "Linter", check_name="Octocoders-linter")

    send_github(client, github, example("check_run_completed", release.commit_sha))

    assert reload(linter).status == "passing"
    assert linter.last_url == "https://github.com/Codertocat/Hello-World/runs/128620228"
    assert linter.evidence["run"] == "check_run:128620228"


# --- ordering -----------------------------------------------------------------------------------


def test_a_replayed_completed_check_run_changes_nothing(client, cast, release, github):
    linter = add(release, github, cast, "Linter", check_name="Octocoders-linter")
    success = example("check_run_completed", release.commit_sha)
    failure = example("check_run_completed", release.commit_sha)
    failure["check_run"].update(
        id=128620300, conclusion="failure", completed_at="2019-05-15T16:00:00Z"
    )
    send_github(client, github, success)
    send_github(client, github, failure)

    response = send_github(client, github, success)

    assert response.json()["recorded"] == 0
    assert reload(linter).status == "failing"


def test_an_earlier_attempt_of_a_workflow_run_does_not_replace_a_later_one(
    client, cast, release, github
):
    every = add(release, github, cast, "Everything")
    first = example("workflow_run_completed", release.commit_sha)
    first["workflow_run"]["conclusion"] = "failure"
    second = example("workflow_run_completed", release.commit_sha)
    second["workflow_run"].update(conclusion="failure", run_attempt=2)
    send_github(client, github, second, event="workflow_run")
    Check.objects.filter(pk=every.pk).update(status="passing")

    response = send_github(client, github, first, event="workflow_run")

    assert response.json()["recorded"] == 0
    assert reload(every).status == "passing"


# --- re-runs ------------------------------------------------------------------------------------


def test_a_failing_check_being_rerun_is_pending(client, cast, release, github):
    randscape = add(release, github, cast, "Randscape", check_name="randscape")
    failed = example("check_run_rerequested", release.commit_sha)
    failed["check_run"].update(conclusion="failure")
    failed["action"] = "completed"
    send_github(client, github, failed)
    assert reload(randscape).status == "failing"

    send_github(client, github, example("check_run_rerequested", release.commit_sha))

    reload(randscape)
    assert randscape.status == "pending"
    assert randscape.last_detail.startswith("Re-run requested by octocat at ")


def test_the_result_of_the_rerun_decides(client, cast, release, github):
    randscape = add(release, github, cast, "Randscape", check_name="randscape")
    send_github(client, github, example("check_run_rerequested", release.commit_sha))
    old = example("check_run_rerequested", release.commit_sha)
    old.update(action="completed")
    rerun = example("check_run_rerequested", release.commit_sha)
    rerun.update(action="completed")
    rerun["check_run"].update(id=5, conclusion="success", completed_at="2018-05-04T02:00:00Z")

    assert send_github(client, github, old).json()["recorded"] == 0
    assert reload(randscape).status == "pending"
    send_github(client, github, rerun)
    assert reload(randscape).status == "passing"


def test_a_passing_check_is_no_longer_passing_while_its_suite_is_rerun(
    client, cast, release, github
):
    linter = add(release, github, cast, "Linter", check_name="Octocoders-linter")
    every = add(release, github, cast, "Everything")
    send_github(client, github, example("check_run_completed", release.commit_sha))
    Check.objects.filter(pk=every.pk).update(status="passing")

    response = send_github(
        client, github, example("check_suite_rerequested", release.commit_sha), event="check_suite"
    )

    assert response.json()["recorded"] == 2
    assert reload(linter).status == "pending"
    assert reload(every).status == "pending"
    assert "requested by octocoders-linter[bot]" in every.last_detail


def test_a_requested_workflow_run_takes_the_pass_away(client, cast, release, github):
    every = add(release, github, cast, "Everything")
    Check.objects.filter(pk=every.pk).update(status="passing")

    send_github(
        client,
        github,
        example("workflow_run_requested", release.commit_sha),
        event="workflow_run",
    )

    assert reload(every).status == "pending"
    assert every.last_detail.startswith("Re-run requested by Codertocat at ")


def test_a_created_check_run_makes_its_check_pending(client, cast, release, github):
    linter = add(release, github, cast, "Linter", check_name="Octocoders-linter")
    earlier = example("check_run_completed", release.commit_sha)
    earlier["check_run"].update(id=128620000, completed_at="2019-05-15T15:00:00Z")
    send_github(client, github, earlier)
    assert reload(linter).status == "passing"

    send_github(client, github, example("check_run_created", release.commit_sha))

    assert reload(linter).status == "pending"


def test_odd_shapes_in_a_signed_delivery_change_nothing_and_never_fail(
    client, cast, release, github
):
    linter = add(release, github, cast, "Linter", check_name="Octocoders-linter")
    no_context = {"state": "success", "sha": release.commit_sha}
    odd = example("check_run_rerequested", release.commit_sha) | {"sender": "octocat"}
    odd["check_run"].update(name="Octocoders-linter", completed_at=17, run_attempt="two")

    responses = [
        send_github(client, github, odd),
        send_github(client, github, {"action": "completed", "check_run": ["not", "a", "run"]}),
        send_github(client, github, no_context, event="status"),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    reload(linter)
    assert linter.status == "pending"
    assert linter.last_detail.startswith("Re-run requested by someone at ")
