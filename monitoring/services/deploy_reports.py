"""Deploy reports pushed by CI (GitHub deployment statuses, GitLab deployment events): each
moves its release as a person's deploy action would, and a refusal is logged on the release and
told to its release managers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from lib.errors import Refused
from monitoring.services.health import WATCHED_STATUSES
from releases.events import log_event
from releases.models import Release, Status
from releases.notifications import notify
from releases.services.common import lock_release, release_managers
from releases.services.lifecycle import record_deploy_report

STAGE_ACTIONS = {
    "started": "starting the deploy",
    "finished": "marking the deploy done",
    "failed": "the failed deploy",
    "cancelled": "cancelling the deploy",
}


@dataclass(frozen=True)
class DeployReported:
    """What one deploy report did to one release: ``recorded`` (it moved), ``ignored`` (it is
    there already, or the report says nothing about it) or ``refused`` (a guard said no)."""

    outcome: str
    release: Release
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, from, to)
    reason: str = ""

    def describe(self) -> str:
        moved = "; ".join(f"{name} {old} → {new}" for name, old, new in self.changes)
        text = f"{self.release}: {moved}" if moved else f"{self.release} unchanged"
        return text + (f" ({self.reason})" if self.reason else "")


def _state(release_id: int) -> tuple[str, str]:
    status, health = Release.objects.values_list("status", "health").get(pk=release_id)
    return str(status), str(health)


def report_deploy(release: Release, *, by: str, stage: str, detail: str = "") -> DeployReported:
    """Apply a deploy report pushed by CI (GitHub deployment status, GitLab deployment event).

    A refusal (a freeze window, the wrong day — CI cannot override —, an unticked deployment
    checklist) is logged on the release and its release managers are told: the deploy is
    happening all the same, and a person has to catch up with it.
    """
    before = _state(release.pk)
    current = before[0]
    reason = ""
    if stage == "started" and current in WATCHED_STATUSES:
        reason = f"the deploy had started already; the release is {current}"
    elif stage == "finished" and current == Status.MONITORING:
        reason = "the deploy was done already"
    elif stage == "cancelled" and current != Status.DEPLOYING:
        # GitHub also marks an earlier deploy inactive once a newer one succeeds: a deploy
        # that is not under way has nothing left to cancel.
        reason = f"no deploy of it is under way; the release is {current}"
    if reason:
        return DeployReported("ignored", release, reason=reason)
    # Some pipelines only report the end: then the deploy started too, and that stands even
    # if marking it done is refused.
    stages = (
        ["started", "finished"] if stage == "finished" and current == Status.APPROVED else [stage]
    )
    outcome = "recorded"
    for step in stages:
        try:
            record_deploy_report(release, by=by, stage=step, detail=detail)
        except Refused as exc:
            _deploy_report_refused(release, by=by, stage=step, detail=detail, problem=str(exc))
            outcome, reason = "refused", f"{STAGE_ACTIONS[step]} was refused: {exc}"
            break
    after = _state(release.pk)
    changes = [
        (name, old, new)
        for name, old, new in zip(("status", "health"), before, after, strict=True)
        if old != new
    ]
    if changes:
        outcome = "recorded"
    elif outcome == "recorded":
        outcome, reason = "ignored", "nothing to change"
    return DeployReported(outcome, release, changes, reason)


def _deploy_report_refused(
    release: Release, *, by: str, stage: str, detail: str, problem: str
) -> None:
    with transaction.atomic():
        release = lock_release(release)
        log_event(
            release,
            actor=by,
            verb="deploy_report_refused",
            summary=f"Deploy reported {stage} but refused: {problem}",
            data={"stage": stage, "detail": detail},
        )
        notify(
            release_managers(release),
            release=release,
            verb="deploy_report_refused",
            message=f"{by} reported the deploy of {release} {stage}, but Greenlight refused it: "
            f"{problem}",
        )
