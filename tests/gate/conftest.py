"""The project's GitHub App against the local GitHub stand-in, and deliveries as GitHub signs
them."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from gate.models import GitHubApp
from gate.services import providers
from monitoring.services.webhooks import github_signature
from releases.services.projects import set_deploy_environments
from tests.gate.stand_ins import GitHubStandIn, recorded, rsa_key_pair
from tests.local_servers import serving

SECRET = "It's a Secret to Everybody"
APP_ID = "Iv1.8a61f9b3a7aba766"
# The commit of GitHub's deployment examples.
GITHUB_SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
MONITORING_RECORDED = Path(__file__).parent.parent / "monitoring" / "recorded"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    pem, public = rsa_key_pair()
    server = GitHubStandIn(app_id=APP_ID, public_key=public)
    server.pem = pem
    with serving(server):
        yield server


@pytest.fixture
def app(cast, github: GitHubStandIn) -> GitHubApp:
    # GitHub's example asks for "my-environment": this project deploys it to production.
    set_deploy_environments(cast.project, by=cast.rita, mapping={"my-environment": "production"})
    return providers.save_github_app(
        cast.project,
        by=cast.dana,
        app_id=APP_ID,
        slug="greenlight-gate",
        api_url=github.url,
        repository="Codertocat/Hello-World",
        private_key=github.pem,
        webhook_secret=SECRET,
    )


def protection_request(github: GitHubStandIn, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(recorded("github_deployment_protection_rule__requested.json"))
    payload["deployment_callback_url"] = github.callback_url()
    payload.update(changes)
    return payload


def deployment_status(state: str) -> dict[str, Any]:
    path = MONITORING_RECORDED / "github" / "webhooks" / "deployment_status__payload.json"
    payload = json.loads(path.read_text())
    payload["deployment_status"]["state"] = state
    return payload


def send(
    client: Any,
    app: GitHubApp,
    payload: dict[str, Any],
    *,
    event: str = "deployment_protection_rule",
    delivery: str | None = None,
    signature: str | None = "",
) -> Any:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "User-Agent": "GitHub-Hookshot/abc",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature or github_signature(SECRET, body)
    return client.post(
        reverse("gate_github_webhook", args=[app.pk]),
        data=body,
        content_type="application/json",
        headers=headers,
    )
