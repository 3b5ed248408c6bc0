"""Inbound webhooks: GitHub and GitLab push results, so checks change at once instead of at the
next poll (which stays as the reconciliation path).

The view verifies the delivery before anything else (an HMAC of the raw body for GitHub, the
shared token for GitLab, both compared in constant time), then calls :func:`receive_github` or
:func:`receive_gitlab`. Those record the delivery id first, in the same transaction as the
changes: a replayed delivery hits the unique constraint and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from monitoring import services
from monitoring.integrations.base import FAILING, NEEDS_JUDGEMENT, PASSING, PENDING
from monitoring.integrations.github import outcome as github_outcome
from monitoring.integrations.gitlab import STATUSES as GITLAB_STATUSES
from monitoring.models import Check, Integration, WebhookDelivery

SIGNATURE_PREFIX = "sha256="
GITHUB_OUTCOMES = {"ok": PASSING, "failed": FAILING, "running": PENDING, "unknown": NEEDS_JUDGEMENT}


def github_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` for ``body``: an HMAC-SHA256 of the raw bytes, hex."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_signature_matches(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(github_signature(secret, body).encode(), header.strip().encode())


def gitlab_token_matches(secret: str, header: str) -> bool:
    # GitLab sends the configured token as it is, not a signature.
    return hmac.compare_digest(secret.encode(), header.encode())


@dataclass(frozen=True)
class Received:
    """What a delivery did, for the response body."""

    outcome: str  # recorded | duplicate | ignored
    recorded: int = 0
    polling: int = 0
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "recorded": self.recorded,
            "polling": self.polling,
            "detail": self.detail,
        }


def _once(
    integration: Integration,
    *,
    provider: str,
    delivery_id: str,
    event: str,
    apply: Callable[[], Received],
) -> Received:
    """Run ``apply`` unless this delivery was seen before. Delivery row and changes commit
    together, so a delivery that failed half-way can be redelivered."""
    with transaction.atomic():
        if delivery_id:
            try:
                with transaction.atomic():
                    WebhookDelivery.objects.create(
                        provider=provider,
                        delivery_id=delivery_id[:200],
                        integration=integration,
                        event=event[:60],
                    )
            except IntegrityError:
                return Received("duplicate", detail="This delivery was already processed.")
        return apply()


def _active_checks(integration: Integration, sha: str) -> QuerySet[Check]:
    in_phase = Q()
    for phase, statuses in services.POLLED_STATUSES.items():
        in_phase |= Q(phase=phase, release__status__in=statuses)
    return (
        Check.objects.filter(integration=integration, release__commit_sha=sha)
        .filter(in_phase)
        .select_related("release")
    )


def _github_run(event: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(name, run) for the completed events that say something about a commit's checks."""
    if payload.get("action") != "completed":
        return None
    if event == "check_run":
        run = payload.get("check_run") or {}
        return str(run.get("name", "")), run
    if event == "workflow_run":
        run = payload.get("workflow_run") or {}
        return str(run.get("name") or (payload.get("workflow") or {}).get("name", "")), run
    if event == "check_suite":
        suite = payload.get("check_suite") or {}
        return str((suite.get("app") or {}).get("name") or "check suite"), suite
    return None


def receive_github(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    found = _github_run(event, payload)
    if found is None:
        return Received("ignored", detail=f"Nothing to do for {event or 'this event'}.")
    name, run = found
    sha = str(run.get("head_sha") or "")
    state = GITHUB_OUTCOMES[github_outcome(run)]
    raw = str(run.get("conclusion") or run.get("status"))
    url = str(run.get("html_url") or run.get("details_url") or "")
    by = f"GitHub webhook ({integration.name})"

    def apply() -> Received:
        recorded = polling = 0
        read_again = []
        for check in _active_checks(integration, sha):
            wanted = check.params.get("check_name")
            if wanted and wanted == name and event != "check_suite":
                services.record_check_result(
                    check,
                    status=state,
                    value=f"{name}: {raw}",
                    detail=f"GitHub reported {event.replace('_', ' ')} “{name}” {raw} "
                    f"for {sha[:12]}.",
                    url=url,
                    sha=sha,
                    source="webhook",
                    by=by,
                )
                recorded += 1
            elif not wanted and state == FAILING:
                # One failed run fails a check over all the commit's runs, whatever the rest say.
                services.record_check_result(
                    check,
                    status=FAILING,
                    value=f"{name}: {raw}",
                    detail=f"GitHub reported “{name}” {raw} for {sha[:12]}.",
                    url=url,
                    sha=sha,
                    source="webhook",
                    by=by,
                )
                recorded += 1
            elif not wanted:
                # One run passing says nothing about the others: read them all now.
                read_again.append(check.pk)
        polling = services.read_checks_now(read_again)
        return Received("recorded", recorded=recorded, polling=polling)

    return _once(integration, provider="github", delivery_id=delivery_id, event=event, apply=apply)


def receive_gitlab(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    if event != "Pipeline Hook" or payload.get("object_kind") != "pipeline":
        return Received("ignored", detail=f"Nothing to do for {event or 'this event'}.")
    pipeline = payload.get("object_attributes") or {}
    sha, ref = str(pipeline.get("sha") or ""), str(pipeline.get("ref") or "")
    raw = str(pipeline.get("detailed_status") or pipeline.get("status"))
    state = GITLAB_STATUSES.get(str(pipeline.get("status")), NEEDS_JUDGEMENT)
    by = f"GitLab webhook ({integration.name})"

    def apply() -> Received:
        recorded = 0
        for check in _active_checks(integration, sha):
            wanted = check.params.get("ref")
            if wanted and wanted != ref:
                continue
            services.record_check_result(
                check,
                status=state,
                value=f"pipeline {raw}",
                detail=f"GitLab reported pipeline #{pipeline.get('id')} on {ref} {raw} "
                f"for {sha[:12]}.",
                url=str(pipeline.get("url") or ""),
                sha=sha,
                source="webhook",
                by=by,
            )
            recorded += 1
        return Received("recorded", recorded=recorded)

    return _once(integration, provider="gitlab", delivery_id=delivery_id, event=event, apply=apply)
