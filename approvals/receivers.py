"""approvals listens to releases: new projects get a policy, changed content stales sign-offs."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from approvals.services.policy import ensure_policy
from approvals.services.sign_offs import mark_sign_offs_stale
from releases import signals


@receiver(signals.project_created)
def give_project_a_policy(sender: Any, project: Any, **kwargs: Any) -> None:
    ensure_policy(project)


@receiver(signals.approved_content_changed)
def stale_sign_offs(
    sender: Any, release: Any, reason: str, event: Any, actor: Any, **kwargs: Any
) -> None:
    mark_sign_offs_stale(release, reason=reason, event=event, by=actor)
