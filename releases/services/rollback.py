"""Rolling a release back: the recommendation, the rollback, its plan, carrying scope forward."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from lib.wording import duration
from releases import access as rules
from releases import notifications as notices
from releases.events import Actor, log_event
from releases.models import (
    ProjectMembership,
    Release,
    RollbackPlan,
    ScopeItem,
    Status,
)
from releases.services.common import (
    apply_changes,
    lock_release,
    people_on,
    refuse_unless,
    reject_unknown_fields,
    release_managers,
    transition,
)
from releases.services.lifecycle import release_time_to_restore
from releases.services.releases import create_release

User = get_user_model()


def recommend_rollback(release: Release, *, by: Actor, reason: str) -> Release:
    """A rollback trigger in "recommend" mode fired: the release page offers the rollback in one
    click, and the rollback plan's decider is told at once with the revert steps."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why a rollback is recommended."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                f"A rollback is recommended while deploying or monitoring; the release is "
                f"{release.get_status_display().lower()}."
            )
        before = {"rollback_recommendation": release.rollback_recommendation}
        # The first recommendation's time stays: how long the call took is part of the review.
        release.rollback_recommended_at = release.rollback_recommended_at or timezone.now()
        release.rollback_recommendation = reason[:300]
        release.save(
            update_fields=["rollback_recommended_at", "rollback_recommendation", "updated_at"]
        )
        log_event(
            release,
            actor=by,
            verb="rollback_recommended",
            summary=f"Rollback recommended: {reason}",
            before=before,
            after={"rollback_recommendation": release.rollback_recommendation},
        )
        plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
        recipients = [plan.decider] if plan and plan.decider else release_managers(release)
        message = (
            f"Rollback recommended for {release}: {reason}. You make the call: the release page "
            "rolls it back in one click."
        )
        steps = plan.revert_steps.strip() if plan else ""
        if steps:
            message += f"\n\nRevert steps:\n{steps}"
        notices.notify(recipients, release=release, verb="rollback_recommended", message=message)
    return release


def roll_back(release: Release, *, by: Actor, reason: str, automatic: bool = False) -> Release:
    """deploying/monitoring → rolled_back: records who decided, why and when it started."""
    rules.check_person(rules.ROLL_BACK, by, release)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the release is rolled back."})
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.ROLLED_BACK, "roll back")
        release.rollback_reason = reason
        release.rollback_decided_by = by if isinstance(by, User) else None
        release.rollback_automatic = automatic
        transition(
            release,
            Status.ROLLED_BACK,
            by=by,
            verb="rolled_back",
            summary=("Automatic rollback started: " if automatic else "Rolled back: ") + reason,
            stamp="rolled_back_at",
            data={"reason": reason, "automatic": automatic},
            extra_fields=["rollback_reason", "rollback_decided_by", "rollback_automatic"],
        )
        notices.notify(
            people_on(release),
            release=release,
            verb="rolled_back",
            message=f"{release} is being rolled back"
            + (" automatically" if automatic else "")
            + f": {reason}. Please write the post-release review once it is done.",
        )
    return release


def finish_rollback(release: Release, *, by: Actor, at: dt.datetime | None = None) -> Release:
    """The rollback is done (reported by CI or by hand); time to restore is measured to here."""
    rules.check_person(rules.FINISH_ROLLBACK, by, release)
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.ROLLED_BACK:
            raise Refused(
                f"Only a rolled-back release finishes a rollback; this one is "
                f"{release.get_status_display().lower()}."
            )
        if release.rollback_finished_at:
            finished = release.rollback_finished_at
            raise Refused(f"The rollback already finished at {finished:%Y-%m-%d %H:%M} UTC.")
        finished = at or timezone.now()
        assert release.rolled_back_at is not None  # set with the rolled-back status
        if finished < release.rolled_back_at:
            raise ValidationError({"at": "The rollback cannot finish before it started."})
        release.rollback_finished_at = finished
        release.save(update_fields=["rollback_finished_at", "updated_at"])
        restore = release_time_to_restore(release)
        log_event(
            release,
            actor=by,
            verb="rollback_finished",
            summary="Rollback finished"
            + (f"; service restored {duration(restore)} after the failure" if restore else ""),
            data={"time_to_restore_seconds": restore.total_seconds() if restore else None},
        )
    return release


def carry_scope_forward(release: Release, *, by: Any, version: str, **fields: Any) -> Release:
    """After a rollback, start a new release with the same included scope in one action."""
    rules.check_person(rules.CARRY_FORWARD, by, release)
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.ROLLED_BACK:
            raise Refused("Scope is carried forward from a rolled-back release.")
        if release.carried_into_id:
            raise Refused(f"The scope was already carried into {release.carried_into}.")
        new = create_release(
            release.project,
            by=by,
            version=version,
            kind=fields.pop("kind", release.kind),
            git_ref=fields.pop("git_ref", release.git_ref),
            environment=fields.pop("environment", release.environment),
            title=fields.pop("title", release.title),
            **fields,
        )
        items = list(release.scope_items.filter(state=ScopeItem.State.INCLUDED))
        ScopeItem.objects.bulk_create(
            [
                ScopeItem(
                    release=new,
                    kind=item.kind,
                    title=item.title,
                    key=item.key,
                    url=item.url,
                    owner_id=item.owner_id,
                    risk=item.risk,
                    merged_at=item.merged_at,
                    created_by=by if isinstance(by, User) else None,
                )
                for item in items
            ]
        )
        release.carried_into = new
        release.save(update_fields=["carried_into", "updated_at"])
        log_event(
            release,
            actor=by,
            verb="scope_carried_forward",
            summary=f"Scope ({len(items)} items) carried into {new.version}",
            data={"release": new.pk},
        )
        log_event(
            new,
            actor=by,
            verb="scope_carried_in",
            summary=f"Scope ({len(items)} items) carried over from rolled-back {release.version}",
            data={"release": release.pk},
        )
    return new


ROLLBACK_FIELDS = (
    "revert_steps",
    "decider",
    "triggers",
    "data_considerations",
    "rehearsed_at",
    "rollback_webhook_url",
)


def update_rollback_plan(release: Release, *, by: Actor, **changes: Any) -> RollbackPlan:
    reject_unknown_fields(changes, ROLLBACK_FIELDS, "rollback plan")
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused("The release is finished; its rollback plan is part of the record now.")
        decider = changes.get("decider")
        if (
            decider is not None
            and not ProjectMembership.objects.filter(project=release.project, user=decider).exists()
        ):
            raise ValidationError({"decider": "The decider must be a member of the project."})
        plan, _ = RollbackPlan.objects.select_for_update().get_or_create(release=release)
        before, after, changed = apply_changes(plan, changes)
        if changed:
            plan.save(update_fields=[*changed, "updated_at"])
            missing = plan.missing(release.kind)
            log_event(
                release,
                actor=by,
                verb="rollback_plan_updated",
                summary="Rollback plan updated"
                + (f"; still missing {', '.join(missing)}" if missing else "; it is complete"),
                before=before,
                after=after,
            )
    return plan
