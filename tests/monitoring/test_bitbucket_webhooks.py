"""Bitbucket Cloud deliveries of build statuses, from Bitbucket's published event payloads,
signed as Bitbucket signs them (``X-Hub-Signature: sha256=…``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.urls import reverse

from monitoring.models import Check, WebhookDelivery
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.webhooks import bitbucket_signature as signature
from tests.monitoring.deliveries import SECRET
from tests.monitoring.helpers import recorded


@pytest.fixture
def bitbucket(cast):
    return save_integration(
        cast.project,
        by=cast.rita,
        name="Bitbucket",
        kind="bitbucket",
        config={"repo": "acme/payments"},
        secrets={"token": "bb-token", "webhook_secret": SECRET},
    )


def example(name: str, sha: str, **status: Any) -> dict[str, Any]:
    payload = recorded("bitbucket", f"webhook_{name}")
    payload["commit_status"]["commit"]["hash"] = sha
    payload["commit_status"].update(status)
    return payload


def send(
    client,
    integration,
    payload: dict[str, Any],
    *,
    event: str = "repo:commit_status_updated",
    delivery: str | None = None,
    signed: str | None = "",
):
    body = json.dumps(payload).encode()
    headers = {"X-Event-Key": event, "X-Request-UUID": delivery or str(uuid.uuid4())}
    if signed is not None:
        headers["X-Hub-Signature"] = signed or signature(SECRET, body)
    return client.post(
        reverse("webhook_bitbucket", args=[integration.pk]),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def add(release, integration, cast, name: str, **params: Any) -> Check:
    return save_release_check(
        release, by=cast.rita, integration=integration, name=name, params=params
    )


def test_a_failed_build_fails_the_check_that_names_it_at_once(client, cast, release, bitbucket):
    e2e = add(release, bitbucket, cast, "End-to-end", status="jenkins-e2e")
    build = add(release, bitbucket, cast, "Build", status="pipeline-build")
    answer = send(client, bitbucket, example("commit_status_updated", release.commit_sha))
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "recorded"
    assert answer.json()["recorded"] == 1
    e2e.refresh_from_db()
    build.refresh_from_db()
    assert e2e.status == "failing"
    assert e2e.last_value == "End-to-end tests: FAILED"
    assert e2e.last_url == "https://jenkins.acme.example/job/payments-e2e/89/"
    assert build.status == "pending"


def test_a_running_build_makes_the_check_pending(client, cast, release, bitbucket):
    e2e = add(release, bitbucket, cast, "End-to-end", status="End-to-end tests")
    send(client, bitbucket, example("commit_status_created", release.commit_sha))
    e2e.refresh_from_db()
    assert e2e.status == "pending"
    assert e2e.last_value == "End-to-end tests: INPROGRESS"


def test_a_late_delivery_changes_nothing(client, cast, release, bitbucket):
    e2e = add(release, bitbucket, cast, "End-to-end", status="jenkins-e2e")
    send(client, bitbucket, example("commit_status_updated", release.commit_sha))
    late = example("commit_status_created", release.commit_sha)
    answer = send(client, bitbucket, late, event="repo:commit_status_created")
    assert answer.json()["recorded"] == 0
    e2e.refresh_from_db()
    assert e2e.status == "failing"


def test_a_replayed_delivery_changes_nothing(client, cast, release, bitbucket):
    add(release, bitbucket, cast, "End-to-end", status="jenkins-e2e")
    payload = example("commit_status_updated", release.commit_sha)
    send(client, bitbucket, payload, delivery="7b8c1e5e-0000-4000-8000-000000000001")
    again = send(client, bitbucket, payload, delivery="7b8c1e5e-0000-4000-8000-000000000001")
    assert again.json()["outcome"] == "duplicate"
    assert WebhookDelivery.objects.filter(provider="bitbucket").count() == 1


def test_a_success_without_a_named_status_is_confirmed_by_a_read(client, cast, release, bitbucket):
    every = add(release, bitbucket, cast, "Every build")
    passed = example("commit_status_updated", release.commit_sha, state="SUCCESSFUL")
    answer = send(client, bitbucket, passed)
    assert answer.json()["polling"] == 1
    every.refresh_from_db()
    assert every.status == "pending"


@pytest.mark.parametrize(
    ("signed", "status", "detail"),
    [
        (None, 401, "The X-Hub-Signature header is missing."),
        ("sha256=" + "0" * 64, 403, "The signature does not match."),
    ],
)
def test_an_unsigned_or_badly_signed_delivery_is_refused(
    client, cast, release, bitbucket, signed, status, detail
):
    e2e = add(release, bitbucket, cast, "End-to-end", status="jenkins-e2e")
    answer = send(
        client, bitbucket, example("commit_status_updated", release.commit_sha), signed=signed
    )
    assert answer.status_code == status
    assert answer.json() == {"detail": detail}
    e2e.refresh_from_db()
    assert e2e.status == "pending"


def test_an_integration_without_a_secret_refuses_every_delivery(client, cast, release):
    bare = save_integration(
        cast.project,
        by=cast.rita,
        name="Bitbucket",
        kind="bitbucket",
        config={"repo": "acme/payments"},
        secrets={"token": "bb-token"},
    )
    answer = send(client, bare, example("commit_status_updated", release.commit_sha))
    assert answer.status_code == 403


def test_a_delivery_about_another_repository_changes_nothing(client, cast, release, bitbucket):
    e2e = add(release, bitbucket, cast, "End-to-end", status="jenkins-e2e")
    payload = example("commit_status_updated", release.commit_sha)
    payload["repository"]["full_name"] = "someone/fork"
    answer = send(client, bitbucket, payload)
    assert answer.json()["outcome"] == "ignored"
    e2e.refresh_from_db()
    assert e2e.status == "pending"


def test_a_body_that_is_not_json_is_a_400(client, bitbucket):
    body = b"not json"
    answer = client.post(
        reverse("webhook_bitbucket", args=[bitbucket.pk]),
        data=body,
        content_type="application/json",
        headers={
            "X-Event-Key": "repo:commit_status_updated",
            "X-Request-UUID": str(uuid.uuid4()),
            "X-Hub-Signature": signature(SECRET, body),
        },
    )
    assert answer.status_code == 400


def test_the_integration_page_shows_the_webhook_address(client, cast, bitbucket):
    client.force_login(cast.rita)
    page = client.get(reverse("integration_edit", args=[cast.project.slug, bitbucket.pk]))
    assert f"/webhooks/bitbucket/{bitbucket.pk}/" in page.content.decode()
