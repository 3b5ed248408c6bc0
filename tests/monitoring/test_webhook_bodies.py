"""A signed webhook whose body is valid JSON but absurdly shaped is refused, not a server error."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from monitoring.models import WebhookDelivery
from monitoring.services.webhooks import github_signature
from tests.monitoring.deliveries import SECRET


def nested(depth: int) -> bytes:
    return b'{"check_run": ' * depth + b"{}" + b"}" * depth


def post_signed(client, integration, body: bytes):
    return client.post(
        reverse("webhook_github", args=[integration.pk]),
        data=body,
        content_type="application/json",
        headers={
            "X-GitHub-Event": "check_run",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(SECRET, body),
        },
    )


@pytest.mark.parametrize("depth", [100_000, 500])
def test_it_refuses_a_deeply_nested_signed_delivery_with_400(client, github, depth):
    response = post_signed(client, github, nested(depth))

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


def test_it_refuses_a_deeply_nested_gitlab_delivery_with_400(client, gitlab):
    response = client.post(
        reverse("webhook_gitlab", args=[gitlab.pk]),
        data=nested(100_000),
        content_type="application/json",
        headers={"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Pipeline Hook"},
    )

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
