"""A release's way from planning to released: scope lock, approval, deploy, health."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from lib.wording import duration, plural
from releases import access as rules
from releases import notifications as notices
from releases import signals
from releases.events import Actor, log_event
from releases.models import (
    ChecklistItem,
    Health,
    Phase,
    Release,
    RollbackPlan,
    ScopeChangeRequest,
    ScopeItem,
    Status,
)
from releases.services.common import (
    lock_release,
    people_on,
    refuse_unless,
    standby_roster,
    transition,
)


def lock_scope_refusal(*, included: int, pending: int) -> str:
    """Why the scope cannot be locked, given how many items are included and how many change
    requests are open, or "" (the release page disables its button with the same words)."""
    if not included:
        return "Cannot lock the scope: it is empty. Add at least one scope item first."
    if pending:
        return f"Cannot lock the scope: {plural(pending, 'change request', 'is')} still open."
    return ""


def lock_scope(release: Release, *, by: Actor) -> Release:
    rules.check_person(rules.LOCK_SCOPE, by, release)
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.FROZEN, "lock the scope")
        refusal = lock_scope_refusal(
            included=release.scope_items.filter(state=ScopeItem.State.INCLUDED).count(),
            pending=release.change_requests.filter(state=ScopeChangeRequest.State.PENDING).count(),
        )
        if refusal:
            raise Refused(refusal)
        transition(
            release,
            Status.FROZEN,
            by=by,
            verb="scope_locked",
            summary="Scope locked: changes now go through change requests",
            stamp="frozen_at",
        )
    return release


def cancel_release(release: Release, *, by: Actor, reason: str) -> Release:
    rules.check_person(rules.CANCEL, by, release)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the release is cancelled."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                "Cannot cancel a release that is already being deployed: roll it back instead."
            )
        refuse_unless(release, Status.CANCELLED, "cancel the release")
        transition(
            release,
            Status.CANCELLED,
            by=by,
            verb="cancelled",
            summary=f"Release cancelled: {reason}",
            stamp="cancelled_at",
            data={"reason": reason},
        )
        notices.notify(
            people_on(release),
            release=release,
            verb="cancelled",
            message=f"{release} was cancelled: {reason}",
        )
    return release


def approve_release(release: Release, *, by: Actor, summary: str) -> Release:
    """frozen → approved; called by the go decision (approvals.services.decisions) inside its
    transaction."""
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.APPROVED, "approve the release")
        transition(
            release, Status.APPROVED, by=by, verb="approved", summary=summary, stamp="approved_at"
        )
    return release


def return_to_frozen(release: Release, *, by: Actor, summary: str) -> Release:
    """approved → frozen after a no-go; a frozen release simply stays frozen."""
    with transaction.atomic():
        release = lock_release(release)
        if release.status == Status.FROZEN:
            return release
        refuse_unless(release, Status.FROZEN, "return the release to frozen")
        transition(release, Status.FROZEN, by=by, verb="returned_to_frozen", summary=summary)
    return release


def deploy_done_refusal(items: Iterable[ChecklistItem]) -> str:
    """Why the deploy cannot be marked done yet, given the release's checklist items, or ""."""
    open_items = [
        item.title
        for item in items
        if item.phase == Phase.DEPLOYMENT and item.required and item.ticked_at is None
    ]
    if not open_items:
        return ""
    count = plural(len(open_items), "required deployment checklist item", "is")
    return f"Cannot mark the deploy done: {count} not ticked: {', '.join(open_items)}."


def finish_deploy(release: Release, *, by: Actor) -> Release:
    """deploying → monitoring: every required deployment checklist item must be ticked."""
    rules.check_person(rules.FINISH_DEPLOY, by, release)
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.MONITORING, "mark the deploy done")
        refusal = deploy_done_refusal(release.checklist_items.filter(phase=Phase.DEPLOYMENT))
        if refusal:
            raise Refused(refusal)
        release.monitoring_until = timezone.now() + release.project.monitoring_window(release.kind)
        # The health stays what it was: unknown until the post-release checks report after the
        # deploy (monitoring.services.health), unhealthy if a step or a check failed while
        # deploying. A deploy that finished is no evidence that the release is well.
        window = release.project.monitoring_window(release.kind)
        transition(
            release,
            Status.MONITORING,
            by=by,
            verb="deploy_finished",
            summary=f"Deploy done; watching health for {duration(window)}",
            stamp="deploy_finished_at",
            extra_fields=["monitoring_until"],
        )
    return release


def mark_health(release: Release, health: str, *, by: Actor, reason: str) -> Release:
    """Record the release's health during the monitoring window.

    Turning unhealthy tells everyone on the release and the rollback decider at once, with the
    plan's revert steps in the message: rolling back is a decision made in seconds.
    """
    with transaction.atomic():
        release = lock_release(release)
        if release.health == health:
            return release
        old = release.health
        release.health = health
        fields = ["health", "updated_at"]
        if health == Health.UNHEALTHY:
            release.unhealthy_since = timezone.now()
            release.unhealthy_reason = reason[:300]
            fields += ["unhealthy_since", "unhealthy_reason"]
        elif release.rollback_recommended_at is not None and release.is_active:
            # Healthy again: a standing recommendation to roll back no longer holds (the event
            # log keeps it).
            release.rollback_recommended_at = None
            release.rollback_recommendation = ""
            fields += ["rollback_recommended_at", "rollback_recommendation"]
        release.save(update_fields=fields)
        log_event(
            release,
            actor=by,
            verb="health_changed",
            summary=f"Health {Health(health).label.lower()}: {reason}",
            before={"health": old},
            after={"health": health},
        )
        if health == Health.UNHEALTHY:
            plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
            steps = plan.revert_steps.strip() if plan else ""
            decider = plan.decider if plan else None
            message = f"{release} is UNHEALTHY: {reason}."
            if decider is not None:
                message += f" {decider.get_full_name() or decider} decides on a rollback."
            if steps:
                message += f"\n\nRevert steps:\n{steps}"
            notices.notify(
                [*people_on(release), decider],
                release=release,
                verb="unhealthy",
                message=message,
            )
    return release


def complete_release(release: Release, *, by: Actor) -> Release:
    """monitoring → released once the window has passed without the release turning unhealthy.

    The transition only: whether the post-release checks allow it is decided on top of this
    (``monitoring.services.health.release_if_healthy``), which people and beat go through."""
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.RELEASED, "mark the release released")
        if release.health == Health.UNHEALTHY:
            raise Refused(
                "Cannot mark the release released: it is unhealthy. Roll it back or resolve "
                "the failing health checks first."
            )
        now = timezone.now()
        if release.monitoring_until and now < release.monitoring_until:
            left = release.monitoring_until - now
            raise Refused(
                "Cannot mark the release released: the monitoring window has "
                f"{duration(left)} left."
            )
        transition(
            release,
            Status.RELEASED,
            by=by,
            verb="released",
            summary="Released: the monitoring window passed healthy"
            if release.health == Health.HEALTHY
            else "Released: the monitoring window passed with no health check failing",
            stamp="released_at",
        )
        notices.notify(
            people_on(release),
            release=release,
            verb="review_due",
            message=f"{release} is released. What went well, what broke, what caused stress? "
            "Write the post-release review while it is fresh.",
        )
    return release


def release_time_to_restore(release: Release) -> dt.timedelta | None:
    """From the failure (unhealthy, else the deploy) until the rollback finished."""
    failed = release.unhealthy_since or release.deploy_finished_at or release.deploy_started_at
    if not (failed and release.rollback_finished_at):
        return None
    return release.rollback_finished_at - failed


DEPLOY_STAGES = ("started", "finished", "failed", "cancelled")


def deploys_to(release: Release, ci_environment: str) -> bool:
    """A deploy CI reports for ``ci_environment`` is this release's, by the project's mapping."""
    target = release.project.environment_for(ci_environment)
    return bool(target) and target == release.environment.strip().lower()


def not_this_environment(ci_environment: str, sha: str) -> str:
    return f"ignored: no release for environment {ci_environment or '(none)'} on commit {sha[:12]}"


def cancel_deploy(release: Release, *, by: Actor, detail: str = "") -> Release:
    """deploying → approved: CI cancelled the deploy before it finished. The approval stands
    (nothing new was decided); the cancelled deploy is kept on the release and in its log."""
    detail = detail.strip()
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.DEPLOYING:
            raise Refused(
                f"Only a deploy under way can be cancelled; the release is "
                f"{release.get_status_display().lower()}."
            )
        started = release.deploy_started_at
        # The deploy that never finished is not a deploy for the metrics: it counts again
        # when the next one starts.
        release.deploy_started_at = None
        transition(
            release,
            Status.APPROVED,
            by=by,
            verb="deploy_cancelled",
            summary="Deploy cancelled; back to approved" + (f" ({detail})" if detail else ""),
            stamp="deploy_cancelled_at",
            data={"detail": detail, "started_at": started.isoformat() if started else None},
            extra_fields=["deploy_started_at"],
        )
        notices.notify(
            standby_roster(release),
            release=release,
            verb="deploy_cancelled",
            message=f"The deploy of {release} was cancelled; it is approved and not deployed.",
        )
    return release


def _start_reported_deploy(release: Release, *, by: Actor, override_reason: str) -> Release:
    """A deploy start goes through the readiness gate, which ``approvals`` owns: it answers
    ``deploy_start_requested``. Nobody answering means no gate, and no start (fail closed)."""
    for _receiver, started in signals.deploy_start_requested.send(
        sender=Release, release=release, actor=by, override_reason=override_reason
    ):
        if isinstance(started, Release):
            return started
    raise Refused("Cannot start the deploy: no readiness gate is installed.")


def record_deploy_report(
    release: Release,
    *,
    by: Actor,
    stage: str,
    detail: str = "",
    override_reason: str = "",
    environment: str = "",
) -> Release:
    """CI reports its deploy: started/finished move the release through the same guards as a
    person would (so a pipeline can use the answer as a gate); failed marks it unhealthy and asks
    the rollback decider to decide; cancelled takes it back to approved.

    A report naming CI's ``environment`` counts only when the project's mapping sends that
    environment to the release's: a staging deploy never moves a production release."""
    if stage not in DEPLOY_STAGES:
        raise ValidationError({"stage": f"Use one of {', '.join(DEPLOY_STAGES)}."})
    detail = detail.strip()
    if environment.strip() and not deploys_to(release, environment):
        raise Refused(
            not_this_environment(environment.strip(), release.commit_sha)
            + f" ({release} deploys to {release.environment})."
        )
    if stage == "cancelled":
        return cancel_deploy(release, by=by, detail=detail)
    if stage == "started":
        return _start_reported_deploy(release, by=by, override_reason=override_reason)
    if stage == "finished":
        return finish_deploy(release, by=by)
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                f"A failed deploy is reported while deploying; the release is "
                f"{release.get_status_display().lower()}."
            )
        return mark_health(
            release,
            Health.UNHEALTHY,
            by=by,
            reason="deploy failed" + (f" ({detail})" if detail else ""),
        )
