"""Deploys that CI holds until Greenlight answers: GitHub protection-rule requests and blocked
GitLab deployments.

A request is answered at once when the gate is open (approved) or closed (rejected, with the
blockers). While it would only have to wait, GitHub is told why once (a status report) and the
request stays pending; it is answered when something on the release changes
(``releases.signals.event_logged``) or, for what changes with the clock alone — a freeze that
ends, a deploy window that opens — by the beat task every minute. Each answer is logged on the
release like every gate answer. A request is claimed with a row lock, so two workers never
answer it twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from gate.models import (
    WEBHOOK_SECRET,
    AppDelivery,
    GateRequest,
    GitHubApp,
    GitLabApprovals,
    Provider,
    RequestState,
)
from gate.services import github, gitlab
from gate.services.answer import (
    GO,
    WAIT,
    GateAnswer,
    clean_sha,
    compute_answer,
    log_answer,
)
from monitoring.integrations.base import ConfigError, IntegrationError
from monitoring.integrations.http import HttpClient
from monitoring.services.deploy_reports import report_deploy
from monitoring.services.webhooks import (
    GITHUB_DEPLOY_STAGES,
    DeliveryRefused,
    read_github_delivery,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    outcome: str  # recorded | duplicate | ignored | refused
    detail: str = ""
    # A new request to answer once the delivery's transaction has committed.
    to_answer: int | None = None

    def as_dict(self) -> dict[str, str]:
        return {"outcome": self.outcome, "detail": self.detail}


def asker(request: GateRequest) -> str:
    if request.provider == Provider.GITHUB:
        return f"GitHub protection rule ({request.repository or 'repository'})"
    return f"GitLab deployment approvals ({request.repository or 'project'})"


def comment_for(answer: GateAnswer) -> str:
    return f"Greenlight: {answer.sentence()}"


# --- GitHub App deliveries ----------------------------------------------------------------------


def receive_github_app_delivery(
    app: GitHubApp, *, body: bytes, signature: str, delivery_id: str, event: str
) -> Received:
    """Verify a delivery to the App's webhook (``signature`` is over exactly the raw ``body``),
    then read it; ``DeliveryRefused`` says why one is not read."""
    secret = app.secret(WEBHOOK_SECRET)
    if not secret:
        raise DeliveryRefused(403, "This GitHub App has no webhook secret; set one first.")
    payload = read_github_delivery(
        secret,
        body=body,
        signature=signature,
        delivery_id=delivery_id,
        receiver=f"GitHub App webhook {app.pk}",
    )
    return receive_github_app(app, event=event, delivery_id=delivery_id, payload=payload)


def receive_github_app(
    app: GitHubApp, *, event: str, delivery_id: str, payload: Mapping[str, Any]
) -> Received:
    """A verified delivery to the App's webhook. Recorded by its delivery id first, in the same
    transaction as its effects: a replayed delivery changes nothing."""
    repository = payload.get("repository")
    name = str(repository.get("full_name") or "") if isinstance(repository, Mapping) else ""
    if app.repository and name.lower() != app.repository.lower():
        return Received(
            "ignored",
            f"ignored: this delivery is about {name or 'no repository'}, not {app.repository}.",
        )
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = AppDelivery.objects.create(
                    app=app, delivery_id=delivery_id[:200], event=event[:60]
                )
        except IntegrityError:
            return Received("duplicate", "This delivery was already processed.")
        if event == "deployment_protection_rule" and payload.get("action") == "requested":
            received = _protection_rule(app, name, payload)
        elif event == "deployment_status":
            received = _deployment_status(app, payload)
        else:
            received = Received("ignored", f"Nothing to do for {event or 'this event'}.")
        delivery.outcome, delivery.detail = received.outcome, received.detail
        delivery.save(update_fields=["outcome", "detail"])
    return received


def _protection_rule(app: GitHubApp, repository: str, payload: Mapping[str, Any]) -> Received:
    deployment = payload.get("deployment")
    deployment = deployment if isinstance(deployment, Mapping) else {}
    installation = payload.get("installation")
    installation_id = str(installation.get("id") or "") if isinstance(installation, Mapping) else ""
    environment = str(payload.get("environment") or deployment.get("environment") or "")
    callback = str(payload.get("deployment_callback_url") or "")
    sha = str(deployment.get("sha") or "").lower()
    problems = [
        problem
        for problem in (
            github.callback_problem(app, callback),
            "the delivery names no installation" if not installation_id.isdigit() else None,
            "the delivery names no deployment" if deployment.get("id") is None else None,
            "the delivery names no environment" if not environment else None,
        )
        if problem
    ]
    if not problems:
        try:
            clean_sha(sha)
        except ValidationError:
            problems.append("the deployment's commit is not a SHA")
    if problems:
        return Received("refused", "refused: " + "; ".join(problems) + ".")
    request, created = GateRequest.objects.get_or_create(
        project=app.project,
        provider=Provider.GITHUB,
        deployment_id=str(deployment["id"]),
        defaults={
            "environment": environment,
            "sha": sha,
            "repository": repository,
            "callback_url": callback,
            "installation_id": installation_id,
        },
    )
    if not created:
        return Received("duplicate", f"Deployment {request.deployment_id} was asked about before.")
    return Received(
        "recorded",
        f"The deploy of {sha[:12]} to {environment} waits for Greenlight's answer.",
        to_answer=request.pk,
    )


def _deployment_status(app: GitHubApp, payload: Mapping[str, Any]) -> Received:
    """A deploy that Greenlight approved moves its release, as a deployment status reported
    through a GitHub integration's webhook does."""
    status = payload.get("deployment_status")
    deployment = payload.get("deployment")
    status = status if isinstance(status, Mapping) else {}
    deployment = deployment if isinstance(deployment, Mapping) else {}
    state = str(status.get("state") or "")
    stage = GITHUB_DEPLOY_STAGES.get(state)
    request = (
        GateRequest.objects.filter(
            project=app.project,
            provider=Provider.GITHUB,
            deployment_id=str(deployment.get("id")),
            state=RequestState.APPROVED,
        )
        .select_related("release")
        .first()
    )
    if request is None or request.release is None:
        return Received("ignored", "ignored: Greenlight did not approve this deployment.")
    if stage is None:
        return Received("ignored", f"ignored: a deployment that is {state!r} moves no release.")
    description = str(status.get("description") or "")
    report = report_deploy(
        request.release,
        by=f"GitHub deployment ({request.repository or 'repository'})",
        stage=stage,
        detail=f"GitHub deployment to {request.environment} {state}"
        + (f": {description}" if description else ""),
    )
    return Received(report.outcome, report.describe())


# --- answering ----------------------------------------------------------------------------------


def answer_request(pk: int, *, client: HttpClient | None = None) -> str:
    """Answer one pending request if the gate is open or closed now; returns its state."""
    with transaction.atomic():
        request = (
            GateRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, state=RequestState.PENDING)
            .select_related("project")
            .first()
        )
        if request is None:
            return "skipped"
        answer = compute_answer(request.project, sha=request.sha, environment=request.environment)
        log_answer(answer, by=asker(request))
        with client or HttpClient() as http:
            try:
                return _give(request, answer, http)
            except IntegrationError as exc:
                # Unreachable, refused credentials, or a provider that no longer waits for this
                # deploy (a cancelled run: GitHub's 422): kept with the reason and tried again by
                # the beat task, which stops once the request is answered or closed.
                _failed(request, exc)
        return request.state


def _failed(request: GateRequest, exc: IntegrationError) -> None:
    logger.warning("Gate request %s not answered: %s", request.pk, exc.message)
    request.last_error = exc.message[:500]
    request.save(update_fields=["last_error"])


def _give(request: GateRequest, answer: GateAnswer, client: HttpClient) -> str:
    comment = comment_for(answer)
    if answer.state == WAIT:
        if request.provider == Provider.GITHUB and not request.reported_waiting:
            github.review(
                _github_app(request),
                installation_id=request.installation_id,
                callback_url=request.callback_url,
                environment=request.environment,
                state=None,
                comment=comment,
                client=client,
            )
            request.reported_waiting = True
            request.release = answer.release
            request.last_error = ""
            request.save(update_fields=["reported_waiting", "release", "last_error"])
        return request.state
    state = RequestState.APPROVED if answer.state == GO else RequestState.REJECTED
    if request.provider == Provider.GITHUB:
        github.review(
            _github_app(request),
            installation_id=request.installation_id,
            callback_url=request.callback_url,
            environment=request.environment,
            state=str(state),
            comment=comment,
            client=client,
        )
    else:
        gitlab.review(
            _gitlab_config(request),
            deployment_id=request.deployment_id,
            state=str(state),
            comment=comment,
            client=client,
        )
    request.state = state
    request.release = answer.release
    request.comment = comment[: github.MAX_COMMENT]
    request.answered_at = timezone.now()
    request.last_error = ""
    request.save(update_fields=["state", "release", "comment", "answered_at", "last_error"])
    return request.state


def _github_app(request: GateRequest) -> GitHubApp:
    app = GitHubApp.objects.filter(project_id=request.project_id).first()
    if app is None:
        raise ConfigError("The project has no GitHub App any more.")
    return app


def _gitlab_config(request: GateRequest) -> GitLabApprovals:
    config = (
        GitLabApprovals.objects.filter(project_id=request.project_id)
        .select_related("integration")
        .first()
    )
    if config is None:
        raise ConfigError("The project no longer approves GitLab deployments.")
    return config


# GitHub fails a job whose protection rule is not answered within 30 days; a request older than
# that waits for nothing.
ANSWER_WITHIN = dt.timedelta(days=30)


def pending_ids(project_id: int | None = None) -> list[int]:
    pending = GateRequest.objects.filter(
        state=RequestState.PENDING, created_at__gte=timezone.now() - ANSWER_WITHIN
    )
    if project_id is not None:
        pending = pending.filter(project_id=project_id)
    return list(pending.order_by("pk").values_list("pk", flat=True))


def answer_pending(project_id: int | None = None, *, client: HttpClient | None = None) -> int:
    """Answer every pending request (of one project) that can be answered now."""
    answered = 0
    for pk in pending_ids(project_id):
        if answer_request(pk, client=client) in (RequestState.APPROVED, RequestState.REJECTED):
            answered += 1
    return answered


def discover_gitlab(config: GitLabApprovals, *, client: HttpClient | None = None) -> list[int]:
    """The project's blocked GitLab deployments not seen before, as pending requests."""
    with client or HttpClient() as http:
        blocked = gitlab.blocked_deployments(config, http)
    new = []
    where = str(config.integration.config.get("project") or "")
    for deployment in blocked:
        try:
            sha = clean_sha(deployment.sha)
        except ValidationError:
            continue
        request, created = GateRequest.objects.get_or_create(
            project=config.project,
            provider=Provider.GITLAB,
            deployment_id=deployment.deployment_id,
            defaults={"environment": deployment.environment, "sha": sha, "repository": where},
        )
        if created:
            new.append(request.pk)
    return new
