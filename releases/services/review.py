"""The review after a release and its follow-up actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from releases import notifications as notices
from releases.events import Actor, log_event
from releases.models import (
    ProjectMembership,
    Release,
    Review,
    ReviewAction,
    Status,
)
from releases.services.common import apply_changes, lock_release, reject_unknown_fields

User = get_user_model()


REVIEW_FIELDS = ("went_well", "went_badly", "caused_stress")


def save_review(release: Release, *, by: Actor, **fields: Any) -> Review:
    reject_unknown_fields(fields, REVIEW_FIELDS, "review")
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.RELEASED, Status.ROLLED_BACK):
            raise Refused("A review is written after the release is released or rolled back.")
        review, created = Review.objects.select_for_update().get_or_create(
            release=release, defaults={"created_by": by if isinstance(by, User) else None}
        )
        before, after, changed = apply_changes(review, fields)
        if changed:
            # Bad input changes nothing: the error rolls back a review this call created.
            review.full_clean(exclude=["release", "created_by"])
        if changed or created:
            review.save()
            log_event(
                release,
                actor=by,
                verb="review_saved",
                summary="Post-release review " + ("started" if created else "updated"),
                before=before or None,
                after=after or None,
            )
    return review


def add_review_action(
    release: Release,
    *,
    by: Any,
    description: str,
    owner: Any = None,
    due_date: dt.date | None = None,
) -> ReviewAction:
    description = description.strip()
    if not description:
        raise ValidationError({"description": "Say what should be done."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.RELEASED, Status.ROLLED_BACK):
            raise Refused("Review actions come after the release is released or rolled back.")
        if (
            owner is not None
            and not ProjectMembership.objects.filter(project=release.project, user=owner).exists()
        ):
            raise ValidationError({"owner": "The owner must be a member of the project."})
        review, _ = Review.objects.get_or_create(
            release=release, defaults={"created_by": by if isinstance(by, User) else None}
        )
        action = ReviewAction.objects.create(
            review=review, description=description, owner=owner, due_date=due_date
        )
        summary = f"Review action: {description}"
        if owner is not None:
            summary += f" (owner {owner}" + (f", due {due_date:%Y-%m-%d})" if due_date else ")")
        log_event(
            release,
            actor=by,
            verb="review_action_added",
            summary=summary,
            data={"review_action": action.pk},
        )
        if owner is not None:
            notices.notify(
                [owner],
                release=release,
                verb="review_action",
                message=f"Action for you from the review of {release}: {description}",
                exclude=by,
                chat=False,
            )
    return action


def complete_review_action(action: ReviewAction, *, by: Any) -> ReviewAction:
    with transaction.atomic():
        release = lock_release(action.review.release)
        action = ReviewAction.objects.select_for_update().get(pk=action.pk)
        if action.done_at:
            raise Refused("This action is already done.")
        action.done_at = timezone.now()
        action.save(update_fields=["done_at"])
        log_event(
            release,
            actor=by,
            verb="review_action_done",
            summary=f"Review action done: {action.description}",
            data={"review_action": action.pk},
        )
    return action
