"""Inbound webhooks: GitHub and GitLab push results, so checks change at once instead of at the
next poll (which stays as the reconciliation path), and report deploys of a release's commit
(GitHub ``deployment_status``, GitLab deployment events), which move the release as CI's deploy
reports through the API do.

A delivery is verified before anything else (an HMAC of the raw body for GitHub, the shared
token for GitLab, both compared in constant time) by :func:`receive_github_delivery` or
:func:`receive_gitlab_delivery`, which then call :func:`receive_github` or
:func:`receive_gitlab`. Those record the delivery id first, in the same transaction as the
changes: a replayed delivery hits the unique constraint and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from monitoring.crypto import SecretsUnreadable
from monitoring.integrations import bitbucket, github
from monitoring.integrations.base import FAILING, NEEDS_JUDGEMENT, PASSING, PENDING, Evidence
from monitoring.integrations.gitlab import STATUSES as GITLAB_STATUSES
from monitoring.models import Check, Integration, WebhookDelivery
from monitoring.services.checks import POLLED_STATUSES
from monitoring.services.deploy_reports import report_deploy
from monitoring.services.integrations import WEBHOOK_SECRET
from monitoring.services.polling import read_checks_now
from monitoring.services.results import (
    record_check_result,
    record_provider_report,
    record_rerun_request,
)
from releases.models import Release, Status
from releases.services.lifecycle import not_this_environment

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
GITHUB_OUTCOMES = {"ok": PASSING, "failed": FAILING, "running": PENDING, "unknown": NEEDS_JUDGEMENT}
# Deploy states → the stages of ``releases.services.lifecycle.record_deploy_report``. Other states
# (queued, pending, waiting, created, blocked…) say nothing about the release yet.
GITHUB_DEPLOY_STAGES = {
    "in_progress": "started",
    "success": "finished",
    "failure": "failed",
    # GitHub's "error" is a deploy that ended without a result: what it left behind in the
    # environment is unknown, so it counts as failed and a person makes the rollback call.
    "error": "failed",
    # GitHub has no cancelled state: "inactive" is what a deploy stopped by hand, or replaced
    # by a newer one, becomes. Only one still under way is cancelled by it (``report_deploy``).
    "inactive": "cancelled",
}
GITLAB_DEPLOY_STAGES = {
    "running": "started",
    "success": "finished",
    "failed": "failed",
    "canceled": "cancelled",
}
# Releases a deploy report can still move.
DEPLOYABLE_STATUSES = (Status.APPROVED, Status.DEPLOYING, Status.MONITORING)


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

    outcome: str  # recorded | duplicate | ignored | refused
    recorded: int = 0
    polling: int = 0
    detail: str = ""
    # What moved: {"release", "release_id", "field", "from", "to"} each.
    changes: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "recorded": self.recorded,
            "polling": self.polling,
            "detail": self.detail,
            "changes": list(self.changes),
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
        # A delivery without an id cannot be recognised again, but is still the integration's
        # activity: it gets an id of its own.
        key = delivery_id[:200] or f"unnamed-{uuid.uuid4()}"
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    provider=provider, delivery_id=key, integration=integration, event=event[:60]
                )
        except IntegrityError:
            return Received("duplicate", detail="This delivery was already processed.")
        received = apply()
        delivery.outcome, delivery.detail = received.outcome, received.detail
        delivery.save(update_fields=["outcome", "detail"])
        return received


def _active_checks(integration: Integration, sha: str) -> QuerySet[Check]:
    in_phase = Q()
    for phase, statuses in POLLED_STATUSES.items():
        in_phase |= Q(phase=phase, release__status__in=statuses)
    return (
        Check.objects.filter(integration=integration, release__commit_sha=sha)
        .filter(in_phase)
        .select_related("release")
    )


def _nothing_to_do(
    integration: Integration, *, provider: str, delivery_id: str, event: str, detail: str
) -> Received:
    return _once(
        integration,
        provider=provider,
        delivery_id=delivery_id,
        event=event,
        apply=lambda: Received("ignored", detail=detail),
    )


def _deployed_releases(integration: Integration, *, sha: str, environment: str) -> list[Release]:
    """The project's releases on this commit, in the environment the project's mapping sends
    CI's ``environment`` to, that a deploy report can still move. Nothing else: a deploy to
    another environment never moves a release."""
    target = integration.project.environment_for(environment)
    if len(sha) < 7 or not target:
        return []
    found = Release.objects.filter(
        project_id=integration.project_id,
        status__in=DEPLOYABLE_STATUSES,
        environment__iexact=target,
    ).select_related("project")
    # A full SHA matches exactly; GitLab's short one (when no full one is given) as a prefix.
    return list(
        found.filter(commit_sha=sha) if len(sha) == 40 else found.filter(commit_sha__startswith=sha)
    )


def _report_deploys(
    integration: Integration,
    *,
    provider: str,
    delivery_id: str,
    event: str,
    sha: str,
    environment: str,
    stage: str,
    detail: str,
) -> Received:
    by = f"{provider} webhook ({integration.name})"

    def apply() -> Received:
        releases = _deployed_releases(integration, sha=sha, environment=environment)
        if not releases:
            return Received("ignored", detail=not_this_environment(environment, sha) + ".")
        reports = [
            report_deploy(release, by=by, stage=stage, detail=detail) for release in releases
        ]
        changes = tuple(
            {
                "release": str(report.release),
                "release_id": report.release.pk,
                "field": name,
                "from": old,
                "to": new,
            }
            for report in reports
            for name, old, new in report.changes
        )
        outcomes = {report.outcome for report in reports}
        outcome = next(o for o in ("recorded", "refused", "ignored") if o in outcomes)
        return Received(
            outcome,
            recorded=sum(1 for report in reports if report.changes),
            detail=f"{detail}: " + "; ".join(report.describe() for report in reports) + ".",
            changes=changes,
        )

    return _once(
        integration, provider=provider.lower(), delivery_id=delivery_id, event=event, apply=apply
    )


def _github_deployment(
    integration: Integration, *, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    status = payload.get("deployment_status") or {}
    deployment = payload.get("deployment") or {}
    state = str(status.get("state") or "")
    stage = GITHUB_DEPLOY_STAGES.get(state)
    if stage is None:
        return _nothing_to_do(
            integration,
            provider="github",
            delivery_id=delivery_id,
            event="deployment_status",
            detail=f"ignored: a deployment that is {state!r} moves no release.",
        )
    environment = str(status.get("environment") or deployment.get("environment") or "")
    description = str(status.get("description") or "")
    detail = f"GitHub deployment to {environment or 'an environment'} {state}" + (
        f": {description}" if description else ""
    )
    return _report_deploys(
        integration,
        provider="GitHub",
        delivery_id=delivery_id,
        event="deployment_status",
        sha=str(deployment.get("sha") or ""),
        environment=environment,
        stage=stage,
        detail=detail,
    )


def _other_repository(integration: Integration, payload: Mapping[str, Any]) -> str | None:
    """The repository a delivery is about when it is not the integration's; None when it is.

    A commit is not a repository's alone: a fork, or another repository an organisation's (or a
    Bitbucket workspace's) webhook covers, can build and deploy the very same SHA. GitHub and
    Bitbucket both name it ``repository.full_name``.
    """
    wanted = str(integration.config.get("repo") or "").strip()
    repository = payload.get("repository")
    name = str(repository.get("full_name") or "") if isinstance(repository, Mapping) else ""
    if wanted and name.lower() != wanted.lower():
        return name or "no repository"
    return None


def receive_github(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    other = _other_repository(integration, payload)
    if other is not None:
        return _nothing_to_do(
            integration,
            provider="github",
            delivery_id=delivery_id,
            event=event,
            detail=f"ignored: this delivery is about {other}, not "
            f"{integration.config.get('repo')}.",
        )
    if event == "deployment_status":
        return _github_deployment(integration, delivery_id=delivery_id, payload=payload)
    if event == "status":
        report = _github_status(payload)
    elif event in GITHUB_RUN_EVENTS:
        report = _github_run_report(event, payload)
    else:
        report = None
    if report is None:
        action = f" {payload['action']}" if payload.get("action") else ""
        return Received("ignored", detail=f"Nothing to do for {event or 'this event'}{action}.")
    by = f"GitHub webhook ({integration.name})"

    def apply() -> Received:
        return _apply_github_report(integration, report, by=by)

    return _once(integration, provider="github", delivery_id=delivery_id, event=event, apply=apply)


# Run events whose actions say a run is asked for again or has started: the check's old result
# no longer counts until the new run's result arrives.
RERUN_ACTIONS = {"created", "requested", "rerequested", "in_progress"}
GITHUB_RUN_EVENTS = ("check_run", "check_suite", "workflow_run")


@dataclass(frozen=True)
class GitHubReport:
    """What one GitHub delivery says about a commit's checks.

    ``name`` is a check run's name or a status's context (the naming rule the poll uses); empty
    for check suites and workflow runs, whose names no check names. ``rerun`` is who asked for
    a run again, when the delivery is such a request.
    """

    event: str
    sha: str
    name: str
    state: str
    raw: str
    url: str
    evidence: Evidence
    rerun: str | None = None


def _github_status(payload: Mapping[str, Any]) -> GitHubReport | None:
    context = str(payload.get("context") or "")
    if not context:
        return None
    state = str(payload.get("state") or "")
    return GitHubReport(
        event="status",
        sha=str(payload.get("sha") or ""),
        name=context,
        state=GITHUB_OUTCOMES[github.status_outcome(dict(payload))],
        raw=state,
        url=str(payload.get("target_url") or ""),
        evidence=github.status_evidence(dict(payload)),
    )


def _github_run_report(event: str, payload: Mapping[str, Any]) -> GitHubReport | None:
    run = payload.get(event)
    action = str(payload.get("action") or "")
    if not isinstance(run, Mapping) or action not in RERUN_ACTIONS | {"completed"}:
        return None
    run = dict(run)
    sender = payload.get("sender")
    login = str(sender.get("login") or "") if isinstance(sender, Mapping) else ""
    if action == "completed":
        rerun = None
    elif event == "check_run" and action != "rerequested":
        # A new check run (queued or running) is a result like any other: pending, and newer
        # by its own facts than the run it replaces.
        rerun = None
    else:
        rerun = login or "someone"
    return GitHubReport(
        event=event,
        sha=str(run.get("head_sha") or ""),
        name=str(run.get("name") or "") if event == "check_run" else "",
        state=GITHUB_OUTCOMES[github.outcome(run)],
        raw=str(run.get("conclusion") or run.get("status")),
        url=str(run.get("html_url") or run.get("details_url") or ""),
        evidence=github.run_evidence(run, event),
        rerun=rerun,
    )


def _apply_github_report(integration: Integration, report: GitHubReport, *, by: str) -> Received:
    recorded = 0
    read_again = []
    what = report.event.replace("_", " ")
    for check in _active_checks(integration, report.sha):
        wanted = str(check.params.get("check_name") or "").strip()
        if wanted and wanted != report.name:
            # Names follow one rule: a suite or workflow run names no check; the poll reads
            # the check runs and statuses under it.
            if not report.name and report.rerun is None:
                read_again.append(check.pk)
            elif not report.name and check.status != PENDING:
                # A re-run of a suite or workflow may re-run the job this check names.
                record_check_result(
                    check,
                    status=PENDING,
                    value="re-run",
                    detail=f"Re-run of a GitHub {what} requested by {report.rerun} at "
                    f"{timezone.now():%Y-%m-%d %H:%M} UTC.",
                    url=report.url,
                    sha=report.sha,
                    source="webhook",
                    by=by,
                )
                recorded += 1
            continue
        if report.rerun is not None:
            recorded += record_rerun_request(
                check,
                requested_by=report.rerun,
                evidence=report.evidence,
                sha=report.sha,
                url=report.url,
                by=by,
            )
            continue
        if not wanted and report.state == PASSING:
            # One run passing says nothing about the others: read them all now.
            read_again.append(check.pk)
            continue
        label = f"“{report.name}”" if report.name else f"{what}"
        done = record_provider_report(
            check,
            evidence=report.evidence,
            status=report.state,
            value=f"{report.name or what}: {report.raw}",
            detail=f"GitHub reported {what} {label} {report.raw} for {report.sha[:12]}.",
            url=report.url,
            sha=report.sha,
            by=by,
        )
        recorded += done
        if done and report.state == PASSING:
            # A pass that arrived by webhook is confirmed by a read at once.
            read_again.append(check.pk)
    polling = read_checks_now(read_again)
    return Received("recorded", recorded=recorded, polling=polling)


def _gitlab_deployment(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    status = str(payload.get("status") or "")
    stage = GITLAB_DEPLOY_STAGES.get(status)
    if stage is None:
        return _nothing_to_do(
            integration,
            provider="gitlab",
            delivery_id=delivery_id,
            event=event,
            detail=f"ignored: a deployment that is {status!r} moves no release.",
        )
    # The event carries the short SHA; the full one is the last part of its commit URL.
    tail = str(payload.get("commit_url") or "").rstrip("/").rsplit("/", 1)[-1]
    sha = tail if len(tail) == 40 else str(payload.get("short_sha") or "")
    environment = str(payload.get("environment") or "")
    return _report_deploys(
        integration,
        provider="GitLab",
        delivery_id=delivery_id,
        event=event,
        sha=sha,
        environment=environment,
        stage=stage,
        detail=f"GitLab deployment #{payload.get('deployment_id')} to "
        f"{environment or 'an environment'} {status}",
    )


def _other_project(integration: Integration, payload: Mapping[str, Any]) -> str | None:
    """The GitLab project a delivery is about when it is not the integration's (configured by
    numeric id or by path); None when it is. A group's webhook sends every project's events."""
    wanted = str(integration.config.get("project") or "").strip()
    project = payload.get("project")
    if not isinstance(project, Mapping):
        return "no project" if wanted else None
    path = str(project.get("path_with_namespace") or "")
    if not wanted or wanted.lower() == path.lower() or wanted == str(project.get("id")):
        return None
    return path or f"project {project.get('id')}"


def receive_gitlab(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    other = _other_project(integration, payload)
    if other is not None:
        return _nothing_to_do(
            integration,
            provider="gitlab",
            delivery_id=delivery_id,
            event=event,
            detail=f"ignored: this delivery is about {other}, not "
            f"{integration.config.get('project')}.",
        )
    if event == "Deployment Hook" and payload.get("object_kind") == "deployment":
        return _gitlab_deployment(
            integration, event=event, delivery_id=delivery_id, payload=payload
        )
    if event != "Pipeline Hook" or payload.get("object_kind") != "pipeline":
        return Received("ignored", detail=f"Nothing to do for {event or 'this event'}.")
    pipeline = payload.get("object_attributes") or {}
    sha, ref = str(pipeline.get("sha") or ""), str(pipeline.get("ref") or "")
    raw = str(pipeline.get("detailed_status") or pipeline.get("status"))
    state = GITLAB_STATUSES.get(str(pipeline.get("status")), NEEDS_JUDGEMENT)
    by = f"GitLab webhook ({integration.name})"

    def apply() -> Received:
        recorded = 0
        read_again = []
        for check in _active_checks(integration, sha):
            wanted = check.params.get("ref")
            if wanted and wanted != ref:
                continue
            if state == PASSING:
                # A pipeline's success says nothing of the child pipelines it triggered without
                # waiting for them: the poll reads them with it.
                read_again.append(check.pk)
                continue
            record_check_result(
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
        polling = read_checks_now(read_again)
        return Received("recorded", recorded=recorded, polling=polling)

    return _once(integration, provider="gitlab", delivery_id=delivery_id, event=event, apply=apply)


# --- the door: a delivery is read only once it is shown to come from the provider ----------------


class DeliveryRefused(Exception):
    """A delivery that is not read, with the HTTP status and the sentence that say why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


NO_SECRET = "This integration has no webhook secret; set one first."


def _webhook_secret(integration: Integration) -> str:
    try:
        return integration.secrets().get(WEBHOOK_SECRET, "")
    except SecretsUnreadable:
        return ""


# Providers' payloads nest about ten levels deep. A signed body nested far deeper is not one of
# theirs, and would exhaust the parser's (and later the database's) recursion.
MAX_PAYLOAD_DEPTH = 64


def _payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object; refused with 400 when it is anything else."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise DeliveryRefused(400, "The body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise DeliveryRefused(400, "The body is not a JSON object.") from None
    if not isinstance(payload, dict):
        raise DeliveryRefused(400, "The body is not a JSON object.")
    if _depth(payload) > MAX_PAYLOAD_DEPTH:
        raise DeliveryRefused(400, "The body is nested too deeply.")
    return payload


def _depth(value: Any) -> int:
    deepest, level = 0, [value]
    while level:
        deepest += 1
        if deepest > MAX_PAYLOAD_DEPTH:
            return deepest
        children: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                children.extend(node.values())
            elif isinstance(node, list):
                children.extend(node)
        level = [c for c in children if isinstance(c, dict | list)]
    return deepest


def receive_github_delivery(
    integration: Integration, *, body: bytes, signature: str, delivery_id: str, event: str
) -> Received:
    """Verify a GitHub delivery (``signature`` is over exactly the raw ``body``), then read it."""
    secret = _webhook_secret(integration)
    if not secret:
        raise DeliveryRefused(403, NO_SECRET)
    payload = read_github_delivery(
        secret,
        body=body,
        signature=signature,
        delivery_id=delivery_id,
        receiver=f"GitHub webhook for integration {integration.pk}",
    )
    return receive_github(integration, event=event, delivery_id=delivery_id, payload=payload)


def read_github_delivery(
    secret: str, *, body: bytes, signature: str, delivery_id: str, receiver: str
) -> dict[str, Any]:
    """The JSON object of a GitHub delivery signed with ``secret`` and naming its delivery id;
    ``DeliveryRefused`` otherwise. ``receiver`` names the webhook in the log."""
    if not signature:
        raise DeliveryRefused(401, "The X-Hub-Signature-256 header is missing.")
    if not github_signature_matches(secret, body, signature):
        logger.warning("%s: signature mismatch", receiver)
        raise DeliveryRefused(403, "The signature does not match.")
    if not delivery_id:
        raise DeliveryRefused(400, "The X-GitHub-Delivery header is missing.")
    return _payload(body)


def receive_gitlab_delivery(
    integration: Integration, *, body: bytes, token: str, delivery_id: str, event: str
) -> Received:
    """Verify a GitLab delivery by its shared token, then read it."""
    secret = _webhook_secret(integration)
    if not secret:
        raise DeliveryRefused(403, NO_SECRET)
    if not token:
        raise DeliveryRefused(401, "The X-Gitlab-Token header is missing.")
    if not gitlab_token_matches(secret, token):
        logger.warning("GitLab webhook for integration %s: token mismatch", integration.pk)
        raise DeliveryRefused(403, "The token does not match.")
    payload = _payload(body)
    return receive_gitlab(integration, event=event, delivery_id=delivery_id, payload=payload)


# --- Bitbucket Cloud: build statuses (repo:commit_status_created / _updated) -----------------


BITBUCKET_STATUS_EVENTS = ("repo:commit_status_created", "repo:commit_status_updated")


def bitbucket_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` as Bitbucket sends it: ``sha256=`` and an HMAC-SHA256 of the raw body
    (SHA-256 despite the header's GitHub-era name)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bitbucket_signature_matches(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(bitbucket_signature(secret, body).encode(), header.strip().encode())


def receive_bitbucket(
    integration: Integration, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    other = _other_repository(integration, payload)
    status = payload.get("commit_status")
    if other is not None or event not in BITBUCKET_STATUS_EVENTS or not isinstance(status, Mapping):
        detail = (
            f"ignored: this delivery is about {other}, not {integration.config.get('repo')}."
            if other is not None
            else f"Nothing to do for {event or 'this event'}."
        )
        return _once(
            integration,
            provider="bitbucket",
            delivery_id=delivery_id,
            event=event,
            apply=lambda: Received("ignored", detail=detail),
        )
    status = dict(status)
    commit = status.get("commit")
    sha = str(commit.get("hash") or "") if isinstance(commit, Mapping) else ""
    state = GITHUB_OUTCOMES[bitbucket.outcome(status)]
    raw = str(status.get("state"))
    label = str(status.get("name") or status.get("key") or "build")
    evidence = bitbucket.status_evidence(status)
    by = f"Bitbucket webhook ({integration.name})"

    def apply() -> Received:
        recorded = 0
        read_again = []
        for check in _active_checks(integration, sha):
            wanted = str(check.params.get("status") or "").strip()
            if wanted and wanted not in bitbucket.names(status):
                continue
            if not wanted and state == PASSING:
                # One build passing says nothing about the others: read them all now.
                read_again.append(check.pk)
                continue
            done = record_provider_report(
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
        polling = read_checks_now(read_again)
        return Received("recorded", recorded=recorded, polling=polling)

    return _once(
        integration, provider="bitbucket", delivery_id=delivery_id, event=event, apply=apply
    )


def receive_bitbucket_delivery(
    integration: Integration, *, body: bytes, signature: str, delivery_id: str, event: str
) -> Received:
    """Verify a Bitbucket delivery (``signature`` is over exactly the raw ``body``), then read
    it; ``X-Request-UUID`` names it, so a replay changes nothing."""
    secret = _webhook_secret(integration)
    if not secret:
        raise DeliveryRefused(403, NO_SECRET)
    if not signature:
        raise DeliveryRefused(401, "The X-Hub-Signature header is missing.")
    if not bitbucket_signature_matches(secret, body, signature):
        logger.warning("Bitbucket webhook for integration %s: signature mismatch", integration.pk)
        raise DeliveryRefused(403, "The signature does not match.")
    if not delivery_id:
        raise DeliveryRefused(400, "The X-Request-UUID header is missing.")
    payload = _payload(body)
    return receive_bitbucket(integration, event=event, delivery_id=delivery_id, payload=payload)
