"""Every change to a project's outgoing webhooks, and the deliveries that follow its releases.

Each service has the shape of the others: the rule (``subscriptions.access``), the input checked,
one transaction with the change and its entry in the project's audit log, the sending after
commit. The secret is made here, shown once to whoever made or replaced it, and stored encrypted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from lib import outbound
from lib.crypto import encrypt_secrets
from lib.errors import Refused
from releases.events import CREDENTIALS_CHANGED, HIDDEN, log_project_change, log_project_event
from releases.models import Project, ProjectEventKind, ReleaseEvent
from subscriptions import access, payloads, tasks
from subscriptions.models import SECRET_KEY, Delivery, Event, Subscription

logger = logging.getLogger(__name__)

KIND = ProjectEventKind.WEBHOOK_SUBSCRIPTION
EDITABLE = ("name", "target_url", "events", "active")
_url_shape = URLValidator(schemes=["http", "https"])


# --- input ----------------------------------------------------------------------------------


def clean_name(project: Project, name: Any, *, exclude: int | None = None) -> str:
    name = str(name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the webhook a name."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    taken = Subscription.objects.filter(project=project, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ValidationError({"name": "Another webhook of this project has this name."})
    return name


def clean_target_url(url: Any) -> str:
    """The egress policy as far as the URL alone tells; the address is checked again when each
    delivery is sent (a name may resolve elsewhere by then)."""
    url = str(url or "").strip()
    if not url:
        raise ValidationError({"target_url": "Give the address the events are sent to."})
    if len(url) > 500:
        raise ValidationError({"target_url": "At most 500 characters."})
    try:
        outbound.check_url(url)
        _url_shape(url)
    except outbound.OutboundError as exc:
        raise ValidationError({"target_url": exc.message}) from exc
    except ValidationError as exc:
        raise ValidationError({"target_url": "Enter a valid http:// or https:// URL."}) from exc
    return url


def clean_events(events: Any) -> list[str]:
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise ValidationError({"events": "Choose the events to send, as a list."})
    chosen = {str(e) for e in events}
    unknown = sorted(chosen - set(Event.values))
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)}."})
    if not chosen:
        raise ValidationError({"events": "Choose at least one event."})
    return [value for value in Event.values if value in chosen]


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- the subscriptions ----------------------------------------------------------------------


def create_subscription(
    project: Project,
    *,
    by: Any,
    name: str,
    target_url: str,
    events: Iterable[str],
    active: bool = True,
) -> tuple[Subscription, str]:
    """A new webhook and its signing secret, which is returned this once and never shown again."""
    access.MANAGE_WEBHOOKS.check(by, project)
    secret = _new_secret()
    subscription = Subscription(
        project=project,
        name=clean_name(project, name),
        target_url=clean_target_url(target_url),
        events=clean_events(events),
        active=bool(active),
        secret_encrypted=encrypt_secrets({SECRET_KEY: secret}),
        created_by=by if getattr(by, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            log_project_change(project, actor=by, kind=KIND, row=subscription)
            subscription.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "Another webhook of this project has this name."}) from exc
    logger.info("Webhook %s of project %s created by %s", subscription.pk, project.pk, by)
    return subscription, secret


def update_subscription(subscription: Subscription, *, by: Any, **fields: Any) -> Subscription:
    """Change the name, target URL, events or whether it is active (paused when not)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"Unknown webhook fields: {', '.join(sorted(unknown))}")
    project = subscription.project
    access.MANAGE_WEBHOOKS.check(by, project)
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        cleaned["name"] = clean_name(project, fields["name"], exclude=subscription.pk)
    if "target_url" in fields:
        cleaned["target_url"] = clean_target_url(fields["target_url"])
    if "events" in fields:
        cleaned["events"] = clean_events(fields["events"])
    if "active" in fields:
        cleaned["active"] = bool(fields["active"])
    try:
        with transaction.atomic():
            row = Subscription.objects.select_for_update().get(pk=subscription.pk)
            for name, value in cleaned.items():
                setattr(row, name, value)
            if log_project_change(project, actor=by, kind=KIND, row=row) is not None:
                row.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "Another webhook of this project has this name."}) from exc
    return row


def pause_subscription(subscription: Subscription, *, by: Any) -> Subscription:
    """Nothing is sent while paused; events that happen meanwhile are not sent later."""
    return update_subscription(subscription, by=by, active=False)


def resume_subscription(subscription: Subscription, *, by: Any) -> Subscription:
    return update_subscription(subscription, by=by, active=True)


def delete_subscription(subscription: Subscription, *, by: Any) -> None:
    """The webhook and its delivery log go; the audit log keeps that it existed."""
    access.MANAGE_WEBHOOKS.check(by, subscription.project)
    with transaction.atomic():
        log_project_change(
            subscription.project, actor=by, kind=KIND, row=subscription, removed=True
        )
        subscription.delete()


def rotate_secret(subscription: Subscription, *, by: Any) -> str:
    """A new signing secret from the next attempt on, retries included; returned this once."""
    access.MANAGE_WEBHOOKS.check(by, subscription.project)
    secret = _new_secret()
    with transaction.atomic():
        row = Subscription.objects.select_for_update().get(pk=subscription.pk)
        row.secret_encrypted = encrypt_secrets({SECRET_KEY: secret})
        row.save(update_fields=["secret_encrypted", "updated_at"])
        log_project_event(
            row.project,
            actor=by,
            kind=KIND,
            action="rotated",
            summary=f"Outgoing webhook “{row}” secret replaced: credentials changed",
            before={"secret": HIDDEN},
            after={"secret": CREDENTIALS_CHANGED},
            data={"id": row.pk},
        )
    return secret


# --- deliveries -----------------------------------------------------------------------------


def queue_deliveries(event: ReleaseEvent) -> list[Delivery]:
    """One delivery per active subscription that follows this event, sent after commit.

    Called once the event's own transaction has committed; a second call for the same event
    adds nothing (one delivery per subscription and event).
    """
    name = payloads.public_event(event)
    if name is None:
        return []
    project_id = event.release.project_id
    followers = [
        s
        for s in Subscription.objects.filter(project_id=project_id, active=True)
        if name in s.events
    ]
    if not followers:
        return []
    about = payloads.details(event, name=name)
    made: list[Delivery] = []
    with transaction.atomic():
        for subscription in followers:
            delivery = Delivery(
                subscription=subscription,
                event=name,
                release=event.release,
                release_event=event,
            )
            delivery.body = payloads.body(event, name=name, guid=str(delivery.guid), about=about)
            try:
                with transaction.atomic():
                    delivery.save()
            except IntegrityError:
                continue  # already queued by an earlier run for this event
            made.append(delivery)
            transaction.on_commit(partial(tasks.deliver_webhook.delay, delivery.pk), robust=True)
    return made


def redeliver(delivery: Delivery, *, by: Any) -> Delivery:
    """Send a finished delivery again: the same body and delivery id (a receiver that already
    acted on it can tell), signed afresh, as a new entry in the log."""
    subscription = delivery.subscription
    access.MANAGE_WEBHOOKS.check(by, subscription.project)
    if not delivery.is_finished:
        raise Refused("This delivery is still being sent; it can be sent again once it has ended.")
    with transaction.atomic():
        again = Delivery.objects.create(
            subscription=subscription,
            event=delivery.event,
            release_id=delivery.release_id,
            release_event_id=delivery.release_event_id,
            guid=delivery.guid,
            redelivery_of=delivery,
            body=delivery.body,
            created_at=timezone.now(),
        )
        log_project_event(
            subscription.project,
            actor=by,
            kind=KIND,
            action="redelivered",
            summary=f"Outgoing webhook “{subscription}”: {delivery.get_event_display().lower()} "
            f"sent again (delivery {delivery.guid})",
            data={"id": subscription.pk, "delivery": again.pk, "of": delivery.pk},
        )
        transaction.on_commit(partial(tasks.deliver_webhook.delay, again.pk), robust=True)
    return again
