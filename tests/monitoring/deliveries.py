"""Webhook deliveries as GitHub and GitLab send them, posted through Django's test client."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import reverse

from monitoring.webhooks import github_signature

# The secret set on the provider's webhook and on the integration (GitHub's documented example).
SECRET = "It's a Secret to Everybody"


def send_github(
    client: Any,
    integration: Any,
    payload: dict[str, Any],
    *,
    event: str = "check_run",
    delivery: str | None = None,
    signature: str | None = "",
) -> Any:
    """POST ``payload`` signed with ``SECRET``; ``signature=None`` sends none, a string that one."""
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "User-Agent": "GitHub-Hookshot/abc",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature or github_signature(SECRET, body)
    return client.post(
        reverse("webhook_github", args=[integration.pk]),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def send_gitlab(
    client: Any,
    integration: Any,
    payload: dict[str, Any],
    *,
    token: str | None = SECRET,
    event: str = "Pipeline Hook",
    **headers: str,
) -> Any:
    extra = {"X-Gitlab-Event": event, **headers}
    if token is not None:
        extra["X-Gitlab-Token"] = token
    return client.post(
        reverse("webhook_gitlab", args=[integration.pk]),
        data=json.dumps(payload),
        content_type="application/json",
        headers=extra,
    )
