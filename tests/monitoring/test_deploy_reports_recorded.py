"""Deploy reports from CI move only the release of the environment they deployed to.

Every delivery here is one of GitHub's or GitLab's published examples (see the README beside the
files in ``recorded/*/webhooks/``). Each sends it with a production release and a staging release
on the same commit, and says exactly what happens to each.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from monitoring.models import Check, WebhookDelivery
from monitoring.services.checks import save_release_check
from releases.models import Health, Notification, Release, Status
from releases.services.checklists import tick_checklist_item
from releases.services.projects import set_deploy_environments
from tests.builders import known, make_approved, make_deploying, make_monitoring, make_release
from tests.monitoring.deliveries import send_github, send_gitlab

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "recorded"
# The commit of GitHub's deployment examples, and of GitLab's deployment example.
GITHUB_SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
GITLAB_SHA = "279484c09fbe69ededfced8c1bb6e6d24616b468"


def github_example(name: str, **state: str) -> dict[str, Any]:
    payload = json.loads((RECORDED / "github" / "webhooks" / f"{name}.json").read_text())
    if state:
        payload = copy.deepcopy(payload)
        payload["deployment_status"].update(state)
    return payload


def gitlab_example(name: str, **changes: Any) -> dict[str, Any]:
    payload = json.loads((RECORDED / "gitlab" / "webhooks" / f"{name}.json").read_text())
    payload.update(changes)
    return payload


def state_of(release: Release) -> tuple[str, str]:
    fresh = Release.objects.get(pk=release.pk)
    return fresh.status, fresh.health


def tick_deployment(release: Release, cast) -> None:
    for item in release.checklist_items.filter(phase="deployment"):
        tick_checklist_item(item, by=cast.dana)


def pair(cast, sha: str, make=make_approved) -> tuple[Release, Release]:
    """Release 2.3.3 for production and 2.3.3-rc for staging, built from the same commit."""
    production = make(make_release(cast, "2.3.3", sha=sha), cast)
    staging = make(make_release(cast, "2.3.3-rc", sha=sha, environment="staging"), cast)
    return production, staging


def change(release: Release, field: str, old: str, new: str) -> dict[str, Any]:
    return {
        "release": str(release),
        "release_id": release.pk,
        "field": field,
        "from": old,
        "to": new,
    }


def delivery_of(response) -> WebhookDelivery:
    return WebhookDelivery.objects.get(delivery_id=response.request["HTTP_X_GITHUB_DELIVERY"])


class TestGitHubDeploymentStatus:
    def test_it_moves_the_production_release_on_the_production_example(self, client, cast, github):
        production, staging = pair(cast, GITHUB_SHA)
        tick_deployment(production, cast)

        response = send_github(
            client, github, github_example("deployment_status__payload"), event="deployment_status"
        )

        assert state_of(production) == (Status.MONITORING, Health.UNKNOWN)
        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)
        assert response.json()["outcome"] == "recorded"
        assert response.json()["changes"] == [
            change(production, "status", "approved", "monitoring"),
        ]
        assert response.json()["detail"] == (
            "GitHub deployment to production success: Payments 2.3.3: status approved → monitoring."
        )

    def test_it_ignores_the_github_pages_example(self, client, cast, github):
        production, staging = pair(cast, GITHUB_SHA)

        response = send_github(
            client,
            github,
            github_example("deployment_status__gh-pages"),
            event="deployment_status",
        )

        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)
        assert not production.events.filter(verb__startswith="deploy").exists()
        assert response.json()["outcome"] == "ignored"
        assert response.json()["detail"] == (
            "ignored: no release for environment github-pages on commit f95f852bd8fc."
        )
        assert response.json()["changes"] == []
        # The integration's activity keeps what the delivery did.
        delivery = delivery_of(response)
        assert (delivery.integration, delivery.outcome) == (github, "ignored")
        assert delivery.detail == response.json()["detail"]

    def test_a_staging_deploy_moves_only_the_staging_release_and_says_so(
        self, client, cast, github
    ):
        production, staging = pair(cast, GITHUB_SHA)
        payload = github_example("deployment_status__payload", environment="staging")
        payload["deployment"]["environment"] = "staging"

        response = send_github(client, github, payload, event="deployment_status")

        # The deploy started; marking it done waits for the unticked checklist.
        assert state_of(staging) == (Status.DEPLOYING, Health.UNKNOWN)
        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
        assert response.json()["outcome"] == "recorded"
        assert response.json()["recorded"] == 1
        assert response.json()["changes"] == [change(staging, "status", "approved", "deploying")]
        assert response.json()["detail"] == (
            "GitHub deployment to staging success: Payments 2.3.3-rc: status approved → "
            "deploying (marking the deploy done was refused: Cannot mark the deploy done: 1 "
            "required deployment checklist item is not ticked: Smoke test in production.)."
        )

    def test_the_projects_mapping_sends_a_ci_environment_to_a_release_environment(
        self, client, cast, github
    ):
        set_deploy_environments(
            cast.project, by=cast.rita, mapping={"prod": "production", "github-pages": ""}
        )
        production, staging = pair(cast, GITHUB_SHA)
        payload = github_example("deployment_status__gh-pages", environment="prod")
        payload["deployment"]["environment"] = "prod"

        send_github(client, github, payload, event="deployment_status")

        assert state_of(production) == (Status.DEPLOYING, Health.UNKNOWN)
        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)

    def test_an_environment_mapped_to_none_moves_nothing(self, client, cast, github):
        set_deploy_environments(cast.project, by=cast.rita, mapping={"production": ""})
        production, _ = pair(cast, GITHUB_SHA)

        response = send_github(
            client, github, github_example("deployment_status__payload"), event="deployment_status"
        )

        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
        assert response.json()["detail"] == (
            "ignored: no release for environment production on commit f95f852bd8fc."
        )

    @pytest.mark.parametrize("state", ["failure", "error"])
    def test_a_failed_production_deploy_marks_only_production_unhealthy(
        self, client, cast, github, state
    ):
        production, staging = pair(cast, GITHUB_SHA, make=make_deploying)

        response = send_github(
            client,
            github,
            github_example("deployment_status__payload", state=state),
            event="deployment_status",
        )

        assert state_of(production) == (Status.DEPLOYING, Health.UNHEALTHY)
        assert state_of(staging) == (Status.DEPLOYING, Health.UNKNOWN)
        assert response.json()["changes"] == [change(production, "health", "unknown", "unhealthy")]

    def test_an_inactive_deploy_under_way_is_cancelled(self, client, cast, github):
        production, staging = pair(cast, GITHUB_SHA, make=make_deploying)

        response = send_github(
            client,
            github,
            github_example("deployment_status__payload", state="inactive"),
            event="deployment_status",
        )

        production.refresh_from_db()
        assert (production.status, production.deploy_started_at) == (Status.APPROVED, None)
        assert production.deploy_cancelled_at is not None
        assert state_of(staging) == (Status.DEPLOYING, Health.UNKNOWN)
        event = production.events.get(verb="deploy_cancelled")
        assert event.summary == (
            "Deploy cancelled; back to approved (GitHub deployment to production inactive)"
        )
        assert event.actor_label == "GitHub webhook (GitHub)"
        assert response.json()["changes"] == [change(production, "status", "deploying", "approved")]

    def test_an_inactive_deploy_that_finished_stays_in_monitoring(self, client, cast, github):
        # GitHub marks an earlier successful deploy inactive when a newer one succeeds.
        production, staging = pair(cast, GITHUB_SHA, make=make_monitoring)

        response = send_github(
            client,
            github,
            github_example("deployment_status__payload", state="inactive"),
            event="deployment_status",
        )

        assert state_of(production) == (Status.MONITORING, Health.UNKNOWN)
        assert state_of(staging) == (Status.MONITORING, Health.UNKNOWN)
        assert response.json()["outcome"] == "ignored"
        assert (
            "no deploy of it is under way; the release is monitoring" in (response.json()["detail"])
        )

    @pytest.mark.parametrize("state", ["queued", "pending"])
    def test_states_before_the_deploy_runs_move_nothing(self, client, cast, github, state):
        production, staging = pair(cast, GITHUB_SHA)

        response = send_github(
            client,
            github,
            github_example("deployment_status__payload", state=state),
            event="deployment_status",
        )

        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)
        assert response.json()["detail"] == (
            f"ignored: a deployment that is '{state}' moves no release."
        )


GITHUB_EVENTS = [
    ("deployment", "deployment__payload"),
    ("deployment", "deployment__gh-pages"),
    ("ping", "ping__payload"),
    ("status", "status__payload"),
    ("check_run", "check_run__completed"),
    ("check_run", "check_run__created"),
    ("check_run", "check_run__rerequested"),
    ("check_run", "check_run__requested_action"),
    ("check_suite", "check_suite__completed"),
    ("check_suite", "check_suite__requested"),
    ("check_suite", "check_suite__rerequested"),
    ("workflow_run", "workflow_run__completed"),
    ("workflow_run", "workflow_run__requested"),
    ("workflow_job", "workflow_job__queued"),
    ("workflow_job", "workflow_job__waiting"),
    ("workflow_job", "workflow_job__in_progress"),
    ("workflow_job", "workflow_job__completed.success"),
    ("workflow_job", "workflow_job__completed.failure"),
]


@pytest.mark.parametrize(("event", "name"), GITHUB_EVENTS, ids=[n for _, n in GITHUB_EVENTS])
@pytest.mark.parametrize("make", [make_approved, make_deploying], ids=["approved", "deploying"])
def test_no_other_github_event_moves_a_release(client, cast, github, event, name, make):
    payload = github_example(name)
    sha = (
        payload.get("sha")
        or (payload.get("deployment") or {}).get("sha")
        or next((v.get("head_sha") for v in payload.values() if isinstance(v, dict)), None)
        or GITHUB_SHA
    )
    production, staging = pair(cast, sha, make=make)
    before = (state_of(production), state_of(staging))

    response = send_github(client, github, payload, event=event)

    assert response.status_code == 200
    assert (state_of(production), state_of(staging)) == before
    assert response.json().get("changes", []) == []


class TestGitLabDeployment:
    def test_the_documented_staging_success_moves_only_staging(self, client, cast, gitlab):
        production, staging = pair(cast, GITLAB_SHA, make=make_deploying)
        tick_deployment(staging, cast)

        response = send_gitlab(
            client, gitlab, gitlab_example("deployment"), event="Deployment Hook"
        )

        assert state_of(staging) == (Status.MONITORING, Health.UNKNOWN)
        assert state_of(production) == (Status.DEPLOYING, Health.UNKNOWN)
        assert response.json()["changes"] == [
            change(staging, "status", "deploying", "monitoring"),
        ]

    def test_a_staging_start_leaves_production_approved(self, client, cast, gitlab):
        production, staging = pair(cast, GITLAB_SHA)

        send_gitlab(
            client, gitlab, gitlab_example("deployment", status="running"), event="Deployment Hook"
        )

        assert state_of(staging) == (Status.DEPLOYING, Health.UNKNOWN)
        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)

    def test_a_failed_staging_deploy_leaves_production_as_it_was(self, client, cast, gitlab):
        production, staging = pair(cast, GITLAB_SHA, make=make_monitoring)

        send_gitlab(
            client, gitlab, gitlab_example("deployment", status="failed"), event="Deployment Hook"
        )

        assert state_of(staging) == (Status.MONITORING, Health.UNHEALTHY)
        assert state_of(production) == (Status.MONITORING, Health.UNKNOWN)

    @pytest.mark.parametrize("status", ["running", "success", "failed", "canceled"])
    def test_a_staging_deploy_never_moves_the_only_release_on_the_commit(
        self, client, cast, gitlab, status
    ):
        production = make_deploying(make_release(cast, "2.3.3", sha=GITLAB_SHA), cast)
        tick_deployment(production, cast)

        response = send_gitlab(
            client, gitlab, gitlab_example("deployment", status=status), event="Deployment Hook"
        )

        assert state_of(production) == (Status.DEPLOYING, Health.UNKNOWN)
        assert response.json()["outcome"] == "ignored"
        assert not production.events.filter(verb__in=["deploy_finished", "health_changed"]).exists()

    def test_a_canceled_deploy_returns_the_release_to_approved(self, client, cast, gitlab):
        production, staging = pair(cast, GITLAB_SHA, make=make_deploying)

        response = send_gitlab(
            client,
            gitlab,
            gitlab_example("deployment", status="canceled"),
            event="Deployment Hook",
        )

        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)
        assert state_of(production) == (Status.DEPLOYING, Health.UNKNOWN)
        assert staging.events.get(verb="deploy_cancelled").summary == (
            "Deploy cancelled; back to approved (GitLab deployment #15 to staging canceled)"
        )
        assert Notification.objects.filter(verb="deploy_cancelled", user=cast.dana).exists()
        assert response.json()["changes"] == [change(staging, "status", "deploying", "approved")]

    def test_a_deploy_to_an_unknown_environment_is_ignored_and_recorded(self, client, cast, gitlab):
        production, staging = pair(cast, GITLAB_SHA)

        response = send_gitlab(
            client,
            gitlab,
            gitlab_example("deployment", status="running", environment="review/feature-x"),
            event="Deployment Hook",
        )

        assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
        assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)
        detail = "ignored: no release for environment review/feature-x on commit 279484c09fbe."
        assert response.json()["detail"] == detail
        assert gitlab.deliveries.get().detail == detail


@pytest.mark.parametrize(
    ("event", "name", "status"),
    [
        ("Pipeline Hook", "pipeline", "success"),
        ("Pipeline Hook", "pipeline", "running"),
        ("Pipeline Hook", "pipeline", "failed"),
        ("Job Hook", "job", "created"),
    ],
)
def test_gitlab_pipelines_and_jobs_move_no_release(client, cast, gitlab, event, name, status):
    payload = gitlab_example(name)
    if name == "pipeline":
        payload["object_attributes"]["status"] = status
    sha = payload.get("sha") or payload["object_attributes"]["sha"]
    production, staging = pair(cast, sha)

    response = send_gitlab(client, gitlab, payload, event=event)

    assert response.status_code == 200
    assert state_of(production) == (Status.APPROVED, Health.UNKNOWN)
    assert state_of(staging) == (Status.APPROVED, Health.UNKNOWN)


def test_a_parent_pipelines_success_is_read_with_its_children_before_it_counts(
    client, cast, gitlab
):
    payload = gitlab_example("pipeline")
    sha = payload["object_attributes"]["sha"]
    release = make_release(cast, "2.3.3", sha=sha)
    check = save_release_check(release, by=cast.rita, integration=gitlab, name="Pipeline")
    Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now() + dt.timedelta(hours=1))

    response = send_gitlab(client, gitlab, payload, event="Pipeline Hook")

    check.refresh_from_db()
    assert check.status == "pending"
    assert known(check.next_poll_at) <= timezone.now()
    assert (response.json()["recorded"], response.json()["polling"]) == (0, 1)
