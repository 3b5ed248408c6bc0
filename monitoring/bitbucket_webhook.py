"""Bitbucket Cloud pushes build statuses: ``repo:commit_status_created`` and
``repo:commit_status_updated`` deliveries change the Bitbucket checks of releases on that commit
at once (the poll stays the reconciliation path).

Bitbucket signs a delivery when the webhook has a secret: ``X-Hub-Signature: sha256=<hex>``,
an HMAC-SHA256 of the raw body (SHA-256 despite the header's GitHub-era name). The view checks
it in constant time before anything else; ``X-Request-UUID`` names the delivery, so a replay
changes nothing (``webhooks._once``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from monitoring import services, webhooks
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations import bitbucket
from monitoring.integrations.base import FAILING, NEEDS_JUDGEMENT, PASSING, PENDING
from monitoring.models import Integration, IntegrationKind
from monitoring.views import _payload, _refuse

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
STATUS_EVENTS = ("repo:commit_status_created", "repo:commit_status_updated")
OUTCOMES = {"ok": PASSING, "failed": FAILING, "running": PENDING, "unknown": NEEDS_JUDGEMENT}


def signature(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


def _other_repository(integration: Integration, payload: Mapping[str, Any]) -> str | None:
    """The repository a delivery is about when it is not the integration's; None when it is.
    A workspace webhook sends every repository's events, and forks share commits."""
    wanted = str(integration.config.get("repo") or "").strip()
    repository = payload.get("repository")
    name = str(repository.get("full_name") or "") if isinstance(repository, Mapping) else ""
    if wanted and name.lower() != wanted.lower():
        return name or "no repository"
    return None


def receive_bitbucket(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> webhooks.Received:
    other = _other_repository(integration, payload)
    status = payload.get("commit_status")
    if other is not None or event not in STATUS_EVENTS or not isinstance(status, Mapping):
        detail = (
            f"ignored: this delivery is about {other}, not {integration.config.get('repo')}."
            if other is not None
            else f"Nothing to do for {event or 'this event'}."
        )
        return webhooks._once(
            integration,
            provider="bitbucket",
            delivery_id=delivery_id,
            event=event,
            apply=lambda: webhooks.Received("ignored", detail=detail),
        )
    status = dict(status)
    commit = status.get("commit")
    sha = str(commit.get("hash") or "") if isinstance(commit, Mapping) else ""
    state = OUTCOMES[bitbucket.outcome(status)]
    raw = str(status.get("state"))
    label = str(status.get("name") or status.get("key") or "build")
    evidence = bitbucket.status_evidence(status)
    by = f"Bitbucket webhook ({integration.name})"

    def apply() -> webhooks.Received:
        recorded = 0
        read_again = []
        for check in webhooks._active_checks(integration, sha):
            wanted = str(check.params.get("status") or "").strip()
            if wanted and wanted not in bitbucket.names(status):
                continue
            if not wanted and state == PASSING:
                # One build passing says nothing about the others: read them all now.
                read_again.append(check.pk)
                continue
            done = services.record_provider_report(
                check,
                evidence=evidence,
                status=state,
                value=f"{label}: {raw}",
                detail=f"Bitbucket reported build “{label}” {raw} for {sha[:12]}.",
                url=str(status.get("url") or ""),
                sha=sha,
                by=by,
            )
            recorded += done
            if done and state == PASSING:
                # A pass that arrived by webhook is confirmed by a read at once.
                read_again.append(check.pk)
        polling = services.read_checks_now(read_again)
        return webhooks.Received("recorded", recorded=recorded, polling=polling)

    return webhooks._once(
        integration, provider="bitbucket", delivery_id=delivery_id, event=event, apply=apply
    )


@csrf_exempt
@require_POST
def webhook_bitbucket(request: HttpRequest, integration_id: int) -> JsonResponse:
    integration = get_object_or_404(
        Integration, pk=integration_id, kind=IntegrationKind.BITBUCKET, enabled=True
    )
    # The raw bytes, before anything parses them: the signature is over exactly these.
    body = request.body
    try:
        secret = integration.secrets().get(services.WEBHOOK_SECRET, "")
    except SecretsUnreadable:
        secret = ""
    header = request.headers.get("X-Hub-Signature", "")
    if not secret:
        return _refuse(403, "This integration has no webhook secret; set one first.")
    if not header:
        return _refuse(401, "The X-Hub-Signature header is missing.")
    if not signature_matches(secret, body, header):
        logger.warning("Bitbucket webhook for integration %s: signature mismatch", integration.pk)
        return _refuse(403, "The signature does not match.")
    delivery = request.headers.get("X-Request-UUID", "")
    if not delivery:
        return _refuse(400, "The X-Request-UUID header is missing.")
    payload = _payload(body)
    if isinstance(payload, str):
        return _refuse(400, payload)
    received = receive_bitbucket(
        integration,
        event=request.headers.get("X-Event-Key", ""),
        delivery_id=delivery,
        payload=payload,
    )
    return JsonResponse(received.as_dict())
