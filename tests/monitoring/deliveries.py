"""Webhook deliveries as GitHub and GitLab send them, posted through Django's test client."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import reverse

from monitoring.services.webhooks import github_signature

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
    repository: str | None = None,
) -> Any:
    """POST ``payload`` signed with ``SECRET``; ``signature=None`` sends none, a string that one.

    The published examples are about GitHub's own sample repositories: the payload is sent as
    the integration's repository's webhook sends it (or as ``repository``'s), unless it names a
    repository of its own that is not one of those samples.
    """
    payload = about_repository(payload, integration.config.get("repo", ""), override=repository)
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


# The repositories of GitHub's published payload examples.
SAMPLE_REPOSITORIES = {"codertocat/hello-world", "github/hello-world", "octo-org/octo-repo"}


# The projects of GitLab's published payload examples.
SAMPLE_PROJECTS = {"gitlab-org/gitlab-test", "root/test-deployment-webhooks"}


def about_repository(payload: Any, default: str, *, override: str | None = None) -> Any:
    """``payload`` naming ``override``, or ``default`` in place of a sample repository."""
    if not isinstance(payload, dict):
        return payload
    named = payload.get("repository")
    named = named if isinstance(named, dict) else {}
    own = str(named.get("full_name") or "")
    if override is None and own and own.lower() not in SAMPLE_REPOSITORIES:
        return payload
    full_name = override or default
    return {**payload, "repository": {**named, "full_name": full_name}} if full_name else payload


def send_gitlab(
    client: Any,
    integration: Any,
    payload: dict[str, Any],
    *,
    token: str | None = SECRET,
    event: str = "Pipeline Hook",
    **headers: str,
) -> Any:
    if isinstance(payload, dict) and "project" not in payload:
        # As the integration's project's webhook sends it.
        payload = {**payload, "project": {"path_with_namespace": integration.config["project"]}}
    elif isinstance(payload, dict) and isinstance(payload["project"], dict):
        named = str(payload["project"].get("path_with_namespace") or "")
        if named in SAMPLE_PROJECTS:
            project = {**payload["project"], "path_with_namespace": integration.config["project"]}
            payload = {**payload, "project": project}
    extra = {"X-Gitlab-Event": event, **headers}
    if token is not None:
        extra["X-Gitlab-Token"] = token
    return client.post(
        reverse("webhook_gitlab", args=[integration.pk]),
        data=json.dumps(payload),
        content_type="application/json",
        headers=extra,
    )
