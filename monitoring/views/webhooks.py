"""The inbound webhook endpoints: GitHub, GitLab and Bitbucket deliveries, verified against the
integration's webhook secret before anything is read (``monitoring.services.webhooks``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from monitoring.models import Integration, IntegrationKind
from monitoring.services.webhooks import (
    DeliveryRefused,
    receive_bitbucket_delivery,
    receive_github_delivery,
    receive_gitlab_delivery,
)


def refusal_response(refused: DeliveryRefused) -> JsonResponse:
    """A refused delivery, answered with its status and the reason the sender's log shows."""
    return JsonResponse({"detail": refused.detail}, status=refused.status)


def github_delivery(request: HttpRequest) -> dict[str, Any]:
    """What a GitHub delivery is verified and read from: the raw bytes, before anything parses
    them (the signature is over exactly these), and GitHub's headers."""
    return {
        "body": request.body,
        "signature": request.headers.get("X-Hub-Signature-256", ""),
        "delivery_id": request.headers.get("X-GitHub-Delivery", ""),
        "event": request.headers.get("X-GitHub-Event", ""),
    }


@csrf_exempt
@require_POST
def webhook_github(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.GITHUB, enabled=True
    )
    try:
        received = receive_github_delivery(integration, **github_delivery(request))
    except DeliveryRefused as refused:
        return refusal_response(refused)
    return JsonResponse(received.as_dict())


@csrf_exempt
@require_POST
def webhook_gitlab(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.GITLAB, enabled=True
    )
    try:
        received = receive_gitlab_delivery(
            integration,
            body=request.body,
            token=request.headers.get("X-Gitlab-Token", ""),
            # Idempotency-Key stays the same across GitLab's retries; older versions only send
            # the event UUID.
            delivery_id=request.headers.get("Idempotency-Key")
            or request.headers.get("X-Gitlab-Event-UUID", ""),
            event=request.headers.get("X-Gitlab-Event", ""),
        )
    except DeliveryRefused as refused:
        return refusal_response(refused)
    return JsonResponse(received.as_dict())


@csrf_exempt
@require_POST
def webhook_bitbucket(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.BITBUCKET, enabled=True
    )
    try:
        received = receive_bitbucket_delivery(
            integration,
            body=request.body,
            signature=request.headers.get("X-Hub-Signature", ""),
            delivery_id=request.headers.get("X-Request-UUID", ""),
            event=request.headers.get("X-Event-Key", ""),
        )
    except DeliveryRefused as refused:
        return refusal_response(refused)
    return JsonResponse(received.as_dict())
