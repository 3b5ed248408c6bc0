"""CI reports deploys through the provider's webhook: GitHub deployment statuses and GitLab
deployment events for the release's commit move it as a deploy report through the API does —
verified, deduplicated, and through the same guards."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from releases.models import Health, Notification, Release, ReleaseEvent, Status
from releases.services.checklists import tick_checklist_item
from releases.services.freeze_windows import save_freeze_window
from tests.builders import known, make_approved, make_deploying, make_release
from tests.monitoring.deliveries import send_github, send_gitlab

pytestmark = pytest.mark.django_db

SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"


def deployment_status(sha: str, state: str, *, environment="production", description=""):
    """A ``deployment_status`` event as GitHub sends it (the fields Greenlight reads, and more)."""
    return {
        "action": "created",
        "deployment_status": {
            "id": 1,
            "state": state,
            "environment": environment,
            "description": description,
            "target_url": "https://github.com/example/payments/actions/runs/7",
        },
        "deployment": {
            "id": 42,
            "sha": sha,
            "ref": "release/1.0",
            "task": "deploy",
            "environment": environment,
        },
        "repository": {"full_name": "example/payments"},
    }


def gitlab_deployment(sha: str, status: str, *, full_sha=True, environment="production"):
    """A deployment event as GitLab sends it: a short SHA, the full one only in the commit URL."""
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": "2026-11-26 14:25:15 +0100",
        "deployment_id": 15,
        "deployable_id": 796,
        "deployable_url": "https://gitlab.example.com/example/payments/-/jobs/796",
        "environment": environment,
        "project": {"path_with_namespace": "example/payments"},
        "short_sha": sha[:8],
        "commit_url": f"https://gitlab.example.com/example/payments/-/commit/{sha}"
        if full_sha
        else "",
        "commit_title": "Release 1.0.0",
        "ref": "main",
    }


def status_of(release: Release) -> str:
    return Release.objects.get(pk=release.pk).status


def tick_deployment(release: Release, cast) -> None:
    for item in release.checklist_items.filter(phase="deployment"):
        tick_checklist_item(item, by=cast.dana)


@pytest.fixture
def approved(cast) -> Release:
    return make_approved(make_release(cast, sha=SHA), cast)


class TestGitHub:
    def test_the_deploy_starts_and_finishes_as_github_reports_it(
        self, client, cast, approved, github
    ):
        started = send_github(
            client, github, deployment_status(SHA, "in_progress"), event="deployment_status"
        )
        assert started.json() == {
            "outcome": "recorded",
            "recorded": 1,
            "polling": 0,
            "detail": "GitHub deployment to production in_progress: "
            "Payments 1.0.0: status approved → deploying.",
            "changes": [
                {
                    "release": "Payments 1.0.0",
                    "release_id": approved.pk,
                    "field": "status",
                    "from": "approved",
                    "to": "deploying",
                }
            ],
        }
        assert status_of(approved) == Status.DEPLOYING
        event = approved.events.get(verb="deploy_started")
        assert event.actor_label == "GitHub webhook (GitHub)"
        assert set(
            Notification.objects.filter(verb="deploy_started").values_list(
                "user__username", flat=True
            )
        ) == {"rita", "dana", "devin"}

        tick_deployment(approved, cast)
        send_github(client, github, deployment_status(SHA, "success"), event="deployment_status")
        release = Release.objects.get(pk=approved.pk)
        assert release.status == Status.MONITORING
        assert release.health == Health.UNKNOWN  # until a health check reports
        assert known(release.deploy_started_at) <= known(release.deploy_finished_at)

    def test_a_deploy_of_the_same_commit_in_another_repository_moves_nothing(
        self, client, cast, approved, github
    ):
        # A fork, or any repository an organisation webhook covers, can hold the same commit.
        forked = deployment_status(SHA, "in_progress") | {
            "repository": {"full_name": "someone/payments-fork"}
        }

        answer = send_github(client, github, forked, event="deployment_status")

        assert answer.json()["outcome"] == "ignored"
        assert "someone/payments-fork" in answer.json()["detail"]
        assert status_of(approved) == Status.APPROVED

    def test_a_success_alone_means_the_deploy_started_and_finished(
        self, client, cast, approved, github
    ):
        tick_deployment(approved, cast)
        send_github(client, github, deployment_status(SHA, "success"), event="deployment_status")
        assert status_of(approved) == Status.MONITORING
        verbs = list(approved.events.order_by("pk").values_list("verb", flat=True))
        assert verbs[-2:] == ["deploy_started", "deploy_finished"]

    @pytest.mark.parametrize("state", ["failure", "error"])
    def test_a_failed_deploy_marks_the_release_unhealthy(self, client, cast, github, state):
        release = make_deploying(make_release(cast, sha=SHA), cast)
        send_github(
            client,
            github,
            deployment_status(SHA, state, description="helm upgrade timed out"),
            event="deployment_status",
        )
        release.refresh_from_db()
        assert release.status == Status.DEPLOYING
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == (
            f"deploy failed (GitHub deployment to production {state}: helm upgrade timed out)"
        )
        assert Notification.objects.filter(verb="unhealthy", user=cast.rita).exists()

    def test_a_refused_report_is_recorded_and_the_release_managers_are_told(
        self, client, cast, github
    ):
        release = make_deploying(make_release(cast, sha=SHA), cast)
        response = send_github(
            client, github, deployment_status(SHA, "success"), event="deployment_status"
        )
        assert response.status_code == 200
        assert response.json()["outcome"] == "refused"
        assert status_of(release) == Status.DEPLOYING
        event = release.events.get(verb="deploy_report_refused")
        assert event.summary == (
            "Deploy reported finished but refused: Cannot mark the deploy done: 1 required "
            "deployment checklist item is not ticked: Smoke test in production."
        )
        note = Notification.objects.get(verb="deploy_report_refused")
        assert note.user == cast.rita
        assert note.message.startswith("GitHub webhook (GitHub) reported the deploy of")

    def test_ci_cannot_start_a_deploy_inside_a_freeze_window(self, client, cast, approved, github):
        now = timezone.now()
        save_freeze_window(
            cast.project,
            by=cast.rita,
            reason="Black Friday",
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=1),
        )
        response = send_github(
            client, github, deployment_status(SHA, "in_progress"), event="deployment_status"
        )
        assert response.json()["outcome"] == "refused"
        assert status_of(approved) == Status.APPROVED
        note = Notification.objects.get(verb="deploy_report_refused", user=cast.rita)
        assert "a freeze window is in force (Black Friday" in note.message

    def test_a_replayed_delivery_is_applied_once(self, client, cast, github):
        release = make_deploying(make_release(cast, sha=SHA), cast)
        delivery = str(uuid.uuid4())
        payload = deployment_status(SHA, "success")
        send_github(client, github, payload, event="deployment_status", delivery=delivery)

        replay = send_github(client, github, payload, event="deployment_status", delivery=delivery)

        assert replay.json()["outcome"] == "duplicate"
        assert release.events.filter(verb="deploy_report_refused").count() == 1
        assert Notification.objects.filter(verb="deploy_report_refused").count() == 1

    @pytest.mark.parametrize(
        ("signature", "code"),
        [(None, 401), ("sha256=" + "0" * 64, 403)],
        ids=["unsigned", "badly-signed"],
    )
    def test_an_unverified_delivery_changes_nothing(
        self, client, approved, github, signature, code
    ):
        events = ReleaseEvent.objects.count()
        response = send_github(
            client,
            github,
            deployment_status(SHA, "in_progress"),
            event="deployment_status",
            signature=signature,
        )
        assert response.status_code == code
        assert status_of(approved) == Status.APPROVED
        assert ReleaseEvent.objects.count() == events

    def test_it_ignores_other_commits_and_states_that_say_nothing(self, client, approved, github):
        other = send_github(
            client, github, deployment_status("f" * 40, "in_progress"), event="deployment_status"
        )
        queued = send_github(
            client, github, deployment_status(SHA, "queued"), event="deployment_status"
        )
        assert other.json()["outcome"] == "ignored"
        assert queued.json()["outcome"] == "ignored"
        assert status_of(approved) == Status.APPROVED

    def test_the_deploys_environment_picks_the_release(self, client, cast, approved, github):
        staging = make_approved(
            make_release(cast, "1.0.0-staging", sha=SHA, environment="staging"), cast
        )
        send_github(
            client,
            github,
            deployment_status(SHA, "in_progress", environment="staging"),
            event="deployment_status",
        )
        assert status_of(staging) == Status.DEPLOYING
        assert status_of(approved) == Status.APPROVED


class TestGitLab:
    def test_the_deploy_moves_as_gitlab_reports_it(self, client, cast, approved, gitlab):
        running = send_gitlab(
            client,
            gitlab,
            gitlab_deployment(SHA, "running"),
            event="Deployment Hook",
            **{"Idempotency-Key": "d-1"},
        )
        assert running.json()["outcome"] == "recorded"
        assert status_of(approved) == Status.DEPLOYING
        assert approved.events.get(verb="deploy_started").actor_label == ("GitLab webhook (GitLab)")

        tick_deployment(approved, cast)
        send_gitlab(client, gitlab, gitlab_deployment(SHA, "success"), event="Deployment Hook")
        assert status_of(approved) == Status.MONITORING

    def test_a_failed_deploy_marks_the_release_unhealthy(self, client, cast, gitlab):
        release = make_deploying(make_release(cast, sha=SHA), cast)
        # Without the commit URL, the short SHA finds the release.
        send_gitlab(
            client,
            gitlab,
            gitlab_deployment(SHA, "failed", full_sha=False),
            event="Deployment Hook",
        )
        release.refresh_from_db()
        assert release.health == Health.UNHEALTHY
        assert release.unhealthy_reason == (
            "deploy failed (GitLab deployment #15 to production failed)"
        )

    @pytest.mark.parametrize(("token", "code"), [(None, 401), ("wrong", 403)])
    def test_a_delivery_without_the_token_changes_nothing(
        self, client, approved, gitlab, token, code
    ):
        response = send_gitlab(
            client, gitlab, gitlab_deployment(SHA, "running"), event="Deployment Hook", token=token
        )
        assert response.status_code == code
        assert status_of(approved) == Status.APPROVED

    def test_a_replayed_delivery_is_applied_once(self, client, cast, gitlab):
        release = make_deploying(make_release(cast, sha=SHA), cast)
        for _ in range(2):
            last = send_gitlab(
                client,
                gitlab,
                gitlab_deployment(SHA, "success"),
                event="Deployment Hook",
                **{"X-Gitlab-Event-UUID": "same"},
            )
        assert last.json()["outcome"] == "duplicate"
        assert release.events.filter(verb="deploy_report_refused").count() == 1

    def test_a_canceled_deploy_says_nothing_about_the_release(self, client, approved, gitlab):
        response = send_gitlab(
            client, gitlab, gitlab_deployment(SHA, "canceled"), event="Deployment Hook"
        )
        assert response.json()["outcome"] == "ignored"
        assert status_of(approved) == Status.APPROVED
