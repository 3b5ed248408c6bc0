"""Inbound webhooks: signed deliveries update checks at once; unsigned or replayed ones do not."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Check, CheckResult, WebhookDelivery
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.results import record_check_result
from monitoring.services.webhooks import github_signature
from releases.models import ReleaseEvent
from tests.builders import known
from tests.monitoring.deliveries import SECRET, send_github, send_gitlab


def test_the_signature_matches_githubs_published_example():
    assert github_signature(SECRET, b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def add(release, integration, cast, name, **params):
    return save_release_check(
        release, by=cast.rita, integration=integration, name=name, params=params
    )


def check_run(sha, name="build", conclusion="failure"):
    return {
        "action": "completed",
        "check_run": {
            "id": 4,
            "name": name,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "html_url": "https://github.com/example/payments/runs/4",
        },
    }


def workflow_run(sha, name="CI", conclusion="success"):
    return {
        "action": "completed",
        "workflow": {"id": 1, "name": name},
        "workflow_run": {
            "id": 30433642,
            "name": name,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "html_url": "https://github.com/example/payments/actions/runs/30433642",
        },
    }


def state(check):
    check.refresh_from_db()
    return check.status


def test_a_signed_check_run_updates_the_named_check_at_once(client, cast, release, github):
    build = add(release, github, cast, "Build", check_name="build")
    lint = add(release, github, cast, "Lint", check_name="lint")

    response = send_github(client, github, check_run(release.commit_sha))

    assert response.status_code == 200
    assert response.json()["recorded"] == 1
    assert state(build) == "failing"
    assert build.last_value == "build: failure"
    assert build.last_url == "https://github.com/example/payments/runs/4"
    assert state(lint) == "pending"
    result = CheckResult.objects.get(check_ref=build)
    assert (result.source, result.sha) == ("webhook", release.commit_sha)
    event = known(ReleaseEvent.objects.filter(verb="check_status").first())
    assert event.actor_label == "GitHub webhook (GitHub)"


def test_a_pass_of_one_workflow_makes_a_check_over_all_runs_read_again(
    client, cast, release, github
):
    all_runs = add(release, github, cast, "All checks")
    Check.objects.filter(pk=all_runs.pk).update(
        next_poll_at=timezone.now() + dt.timedelta(minutes=10)
    )

    response = send_github(client, github, workflow_run(release.commit_sha), event="workflow_run")

    assert response.json()["polling"] == 1
    all_runs.refresh_from_db()
    assert all_runs.status == "pending"  # one green workflow does not make every run green
    assert all_runs.next_poll_at <= timezone.now()


def test_a_failed_workflow_fails_a_check_over_all_runs(client, cast, release, github):
    all_runs = add(release, github, cast, "All checks")

    send_github(
        client, github, workflow_run(release.commit_sha, conclusion="failure"), event="workflow_run"
    )

    assert state(all_runs) == "failing"


def test_it_ignores_deliveries_about_other_commits(client, cast, release, github):
    build = add(release, github, cast, "Build", check_name="build")

    response = send_github(client, github, check_run("f" * 40, conclusion="success"))

    assert response.json()["recorded"] == 0
    assert state(build) == "pending"


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        pytest.param(None, 401, id="missing"),
        pytest.param("sha256=" + "0" * 64, 403, id="wrong"),
        pytest.param(github_signature("another secret", b"{}"), 403, id="other-secret"),
        pytest.param(
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", 403, id="no-prefix"
        ),
    ],
)
def test_an_unsigned_or_badly_signed_delivery_changes_nothing(
    client, cast, release, github, signature, code
):
    build = add(release, github, cast, "Build", check_name="build")
    events = ReleaseEvent.objects.count()

    response = send_github(client, github, check_run(release.commit_sha), signature=signature)

    assert response.status_code == code
    assert state(build) == "pending"
    assert not WebhookDelivery.objects.exists()
    assert ReleaseEvent.objects.count() == events


def test_a_body_changed_after_signing_is_refused(client, cast, release, github):
    build = add(release, github, cast, "Build", check_name="build")
    signed = github_signature(
        SECRET, json.dumps(check_run(release.commit_sha, conclusion="success")).encode()
    )

    response = send_github(client, github, check_run(release.commit_sha), signature=signed)

    assert response.status_code == 403
    assert state(build) == "pending"


def test_it_refuses_deliveries_until_a_webhook_secret_is_set(client, cast, release):
    integration = save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        config={"repo": "example/payments"},
        secrets={"token": "ghp_x"},
    )
    build = add(release, integration, cast, "Build", check_name="build")

    response = send_github(client, integration, check_run(release.commit_sha))

    assert response.status_code == 403
    assert state(build) == "pending"


def test_a_replayed_delivery_is_ignored(client, cast, release, github):
    build = add(release, github, cast, "Build", check_name="build")
    delivery = str(uuid.uuid4())
    send_github(client, github, check_run(release.commit_sha), delivery=delivery)
    record_check_result(build, status="passing", value="re-run passed", source="api")
    results = CheckResult.objects.count()

    response = send_github(client, github, check_run(release.commit_sha), delivery=delivery)

    assert response.status_code == 200
    assert response.json()["outcome"] == "duplicate"
    assert state(build) == "passing"
    assert CheckResult.objects.count() == results
    assert WebhookDelivery.objects.filter(provider="github", delivery_id=delivery).count() == 1


def test_it_answers_other_events_without_doing_anything(client, cast, release, github):
    response = send_github(client, github, {"zen": "Keep it logically awesome."}, event="ping")

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


def test_an_unknown_integration_is_not_found(client, github):
    body = b"{}"
    response = client.post(
        reverse("webhook_github", args=[github.pk + 100]),
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": github_signature(SECRET, body)},
    )

    assert response.status_code == 404


# --- GitLab -------------------------------------------------------------------------------------


def pipeline(sha, status="failed", ref="main"):
    return {
        "object_kind": "pipeline",
        "object_attributes": {
            "id": 287,
            "iid": 144,
            "ref": ref,
            "sha": sha,
            "status": status,
            "detailed_status": "failed" if status == "failed" else status,
            "url": "https://gitlab.example.com/example/payments/-/pipelines/287",
        },
    }


def test_a_gitlab_pipeline_hook_updates_the_checks_of_its_commit(client, cast, release, gitlab):
    main = add(release, gitlab, cast, "Pipeline on main", ref="main")
    tags = add(release, gitlab, cast, "Pipeline on the tag", ref="v1.0.0")

    response = send_gitlab(
        client, gitlab, pipeline(release.commit_sha), **{"Idempotency-Key": "k1"}
    )

    assert response.status_code == 200
    assert state(main) == "failing"
    assert main.last_url.endswith("/pipelines/287")
    assert state(tags) == "pending"


@pytest.mark.parametrize("project", [{"id": 77, "path_with_namespace": "someone/payments"}, None])
def test_a_gitlab_pipeline_of_another_project_changes_no_check(
    client, cast, release, gitlab, project
):
    # A group webhook sends every project's pipelines, and a fork can run the same commit.
    check = add(release, gitlab, cast, "Pipeline on main", ref="main")
    elsewhere = pipeline(release.commit_sha) | {"project": project}

    response = send_gitlab(client, gitlab, elsewhere)

    assert response.json()["outcome"] == "ignored"
    assert state(check) == "pending"


@pytest.mark.parametrize(("token", "code"), [(None, 401), ("wrong", 403), ("", 401)])
def test_a_gitlab_delivery_without_the_token_changes_nothing(
    client, cast, release, gitlab, token, code
):
    check = add(release, gitlab, cast, "Pipeline")

    response = send_gitlab(client, gitlab, pipeline(release.commit_sha), token=token)

    assert response.status_code == code
    assert state(check) == "pending"
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Gitlab-Event-UUID"])
def test_a_replayed_gitlab_delivery_is_ignored(client, cast, release, gitlab, header):
    check = add(release, gitlab, cast, "Pipeline")
    send_gitlab(client, gitlab, pipeline(release.commit_sha), **{header: "same"})
    record_check_result(check, status="passing", source="api")

    response = send_gitlab(client, gitlab, pipeline(release.commit_sha), **{header: "same"})

    assert response.json()["outcome"] == "duplicate"
    assert state(check) == "passing"
