"""Greenlight as a GitHub App custom deployment protection rule, against a local stand-in for
GitHub's API that checks the App's JWT, issues an installation token and records each answer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals.services.decisions import record_decision
from gate import tasks
from gate.models import AppDelivery, GateRequest
from gate.services import providers
from gate.services.answer import VERB
from releases.models import ReleaseEvent, Status
from releases.services.freeze_windows import delete_freeze_window, save_freeze_window
from tests.builders import make_approved, make_ready, make_release
from tests.gate.conftest import (
    GITHUB_SHA,
    SECRET,
    deployment_status,
    protection_request,
    send,
)
from tests.gate.stand_ins import rsa_key_pair

pytestmark = pytest.mark.django_db


def test_it_approves_a_deploy_the_gate_allows(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    release = make_approved(make_release(cast, sha=GITHUB_SHA), cast)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, app, protection_request(github))

    assert response.status_code == 200
    assert response.json()["outcome"] == "recorded"
    assert github.jwt_refusals == []
    assert len(github.issued) == 1
    [callback] = github.callbacks
    assert callback["run_id"] == 30433642
    assert callback["token"] == github.issued[0]
    assert callback["body"] == {
        "environment_name": "my-environment",
        "state": "approved",
        "comment": f"Greenlight: Go: {release} (commit {GITHUB_SHA[:12]} to my-environment) "
        "may deploy now.",
    }
    request = GateRequest.objects.get()
    assert (request.state, request.release, request.deployment_id) == (
        "approved",
        release,
        "145988746",
    )
    event = ReleaseEvent.objects.get(release=release, verb=VERB)
    assert event.data["asked_by"] == "GitHub protection rule (Codertocat/Hello-World)"
    assert (event.data["sha"], event.data["environment"], event.data["state"]) == (
        GITHUB_SHA,
        "my-environment",
        "go",
    )


def test_it_reports_why_a_deploy_waits_and_approves_it_when_the_go_arrives(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    release = make_ready(make_release(cast, sha=GITHUB_SHA), cast)

    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))

    [report] = github.callbacks
    assert "state" not in report["body"]
    assert report["body"]["comment"].startswith(f"Greenlight: Waiting: {release}")
    assert "there is no Go decision yet" in report["body"]["comment"]
    assert GateRequest.objects.get().state == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        record_decision(release, by=cast.rita, outcome="go")

    assert [c["body"].get("state") for c in github.callbacks] == [None, "approved"]
    assert GateRequest.objects.get().state == "approved"
    assert list(
        ReleaseEvent.objects.filter(verb=VERB).order_by("pk").values_list("data__state", flat=True)
    ) == ["wait", "go"]


def test_it_rejects_a_waiting_deploy_when_a_no_go_is_decided(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    release = make_ready(make_release(cast, sha=GITHUB_SHA), cast)
    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))

    with django_capture_on_commit_callbacks(execute=True):
        record_decision(
            release, by=cast.rita, outcome="no_go", notes="Card payments fail in staging"
        )

    answer = github.callbacks[-1]["body"]
    assert answer["state"] == "rejected"
    assert answer["comment"].startswith("Greenlight: No-go:")
    assert "Card payments fail in staging" in answer["comment"]
    assert GateRequest.objects.get().state == "rejected"


def test_it_approves_a_waiting_deploy_once_the_freeze_is_over(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    make_approved(make_release(cast, sha=GITHUB_SHA), cast)
    now = timezone.now()
    window = save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Quarter close",
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))
    assert "a freeze window is in force (Quarter close" in github.callbacks[0]["body"]["comment"]

    tasks.watch_gates()
    assert len(github.callbacks) == 1  # still frozen: nothing more to say

    delete_freeze_window(window, by=cast.rita)
    tasks.watch_gates()

    assert github.callbacks[-1]["body"]["state"] == "approved"


def test_it_rejects_at_once_a_commit_no_release_deploys(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    make_approved(make_release(cast, sha="b" * 40), cast)

    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))

    [answer] = github.callbacks
    assert answer["body"]["state"] == "rejected"
    assert f"no release of Payments deploys commit {GITHUB_SHA[:12]}" in answer["body"]["comment"]


def test_it_refuses_a_wrong_or_missing_signature(client, cast, github, app) -> None:
    make_approved(make_release(cast, sha=GITHUB_SHA), cast)

    wrong = send(client, app, protection_request(github), signature="sha256=" + "0" * 64)
    missing = send(client, app, protection_request(github), signature=None)

    assert (wrong.status_code, wrong.json()["detail"]) == (403, "The signature does not match.")
    assert missing.status_code == 401
    assert not GateRequest.objects.exists()
    assert not AppDelivery.objects.exists()
    assert github.issued == []


def test_it_refuses_a_replayed_delivery(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    make_approved(make_release(cast, sha=GITHUB_SHA), cast)
    with django_capture_on_commit_callbacks(execute=True):
        first = send(client, app, protection_request(github), delivery="72d3162e-cc78-11e3")
        again = send(client, app, protection_request(github), delivery="72d3162e-cc78-11e3")
        # The same signed body under a new delivery id asks about the same deployment.
        renamed = send(client, app, protection_request(github), delivery="another-id")

    assert first.status_code == 200
    assert (again.status_code, again.json()["outcome"]) == (409, "duplicate")
    assert (renamed.status_code, renamed.json()["outcome"]) == (409, "duplicate")
    assert len(github.callbacks) == 1
    assert GateRequest.objects.count() == 1


def test_it_sends_no_token_to_a_callback_outside_the_apps_github(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    make_approved(make_release(cast, sha=GITHUB_SHA), cast)
    # The published example's own placeholder callback.
    payload = protection_request(github)
    payload["deployment_callback_url"] = "https://github.local/deploy-the-thing"

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, app, payload)

    assert response.json()["outcome"] == "refused"
    assert "not a protection rule of" in response.json()["detail"]
    assert github.issued == []
    assert not GateRequest.objects.exists()


def test_it_ignores_another_repository(client, cast, github, app) -> None:
    payload = protection_request(github)
    payload["repository"]["full_name"] = "someone/fork"

    response = send(client, app, payload)

    assert response.json()["outcome"] == "ignored"
    assert not GateRequest.objects.exists()


def test_the_stand_in_refuses_a_jwt_signed_with_another_key(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    other_pem, _ = rsa_key_pair()
    app = providers.save_github_app(
        cast.project, by=cast.dana, app_id=app.app_id, api_url=github.url, private_key=other_pem
    )
    make_approved(make_release(cast, sha=GITHUB_SHA), cast)

    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))

    assert len(github.jwt_refusals) == 1
    assert "could not be decoded" in github.jwt_refusals[0]
    assert github.callbacks == []
    request = GateRequest.objects.get()
    assert request.state == "pending"
    assert "credentials were rejected" in request.last_error


def test_a_deploy_greenlight_approved_starts_the_releases_deploy(
    client, cast, github, app, django_capture_on_commit_callbacks
) -> None:
    release = make_approved(make_release(cast, sha=GITHUB_SHA), cast)
    with django_capture_on_commit_callbacks(execute=True):
        send(client, app, protection_request(github))

    response = send(client, app, deployment_status("in_progress"), event="deployment_status")

    assert response.json()["outcome"] == "recorded"
    release.refresh_from_db()
    assert release.status == Status.DEPLOYING


def test_a_deploy_greenlight_did_not_approve_moves_nothing(client, cast, github, app) -> None:
    release = make_approved(make_release(cast, sha=GITHUB_SHA), cast)

    response = send(client, app, deployment_status("in_progress"), event="deployment_status")

    assert response.json()["outcome"] == "ignored"
    release.refresh_from_db()
    assert release.status == Status.APPROVED


def test_the_app_is_set_up_with_its_credentials_encrypted_and_audited(cast, app) -> None:
    assert SECRET not in app.secrets_encrypted
    assert app.stored_secret_names() == {"private_key", "webhook_secret"}
    event = cast.project.events.filter(kind="integration").latest("pk")
    assert event.summary == "Deploy gate GitHub App greenlight-gate set up; credentials changed"
    assert "BEGIN" not in str(event.after)
