"""approvals listens to releases: new projects get a policy, changed content stales sign-offs and
withdraws the Go, and a deploy CI reports as started goes through the readiness gate."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from approvals.services.deploy import start_deploy, withdraw_approval
from approvals.services.policy import ensure_policy
from approvals.services.sign_offs import mark_sign_offs_stale
from releases import signals
from releases.models import Release


@receiver(signals.project_created)
def give_project_a_policy(sender: Any, project: Any, **kwargs: Any) -> None:
    ensure_policy(project)


@receiver(signals.approved_content_changed)
def stale_sign_offs(
    sender: Any, release: Any, reason: str, event: Any, actor: Any, **kwargs: Any
) -> None:
    mark_sign_offs_stale(release, reason=reason, event=event, by=actor)
    withdraw_approval(release, by=actor, reason=reason)


@receiver(signals.deploy_start_requested)
def start_reported_deploy(
    sender: Any, release: Release, actor: Any, override_reason: str, **kwargs: Any
) -> Release:
    return start_deploy(release, by=actor, override_reason=override_reason)
