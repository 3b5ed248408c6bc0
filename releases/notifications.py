"""Notifications: an in-app row per person, then email and the project's chat webhook.

Rows are written inside the caller's transaction; delivery happens in Celery tasks enqueued on
commit, so a slow or failing channel never breaks or delays the action that caused it. The
in-app list reads through the selectors below (``notifications_for``, ``unread_for``) and is
changed only through ``mark_read`` / ``mark_all_read``.

Verbs in use: ``sign_off_requested``, ``sign_off_reminder``, ``sign_offs_escalated``,
``sign_offs_complete``, ``no_go``, ``sign_off_stale``, ``decision``, ``override_used``,
``change_request_waiting``, ``change_accepted``, ``change_rejected``, ``deploy_started``,
``cancelled``, ``unhealthy``, ``rollback_recommended``, ``rolled_back``, ``review_due``, and from
the health window (``monitoring.services.health``): ``health_window_held``,
``deploy_report_refused``, ``rollback_webhook_failed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from releases import tasks
from releases.models import Notification, Release


def notify(
    users: Iterable[Any],
    *,
    release: Release | None,
    verb: str,
    message: str,
    url: str = "",
    exclude: Any = None,
    chat: bool = True,
) -> list[Notification]:
    """Write one in-app notification per person and send the email and chat copies on commit.

    Call it inside the transaction of the change: if the change rolls back, nothing is sent.
    """
    excluded = getattr(exclude, "pk", None)
    recipients = {u.pk: u for u in users if u is not None and u.pk != excluded}
    if not url and release is not None:
        url = release.get_absolute_url()
    rows = Notification.objects.bulk_create(
        [
            Notification(user=user, release=release, verb=verb, message=message, url=url)
            for user in recipients.values()
        ]
    )
    ids = [row.pk for row in rows]
    # robust=True: a broker that is down must not turn a committed change into an error page;
    # the in-app rows are there either way.
    if ids:
        transaction.on_commit(partial(tasks.send_notification_emails.delay, ids), robust=True)
    if chat and release is not None and release.project.slack_webhook_url:
        transaction.on_commit(
            partial(tasks.post_to_chat.delay, release.project_id, message, url), robust=True
        )
    return rows


# --- the in-app list --------------------------------------------------------------------------


def notifications_for(user: Any) -> QuerySet[Notification]:
    """The user's notifications, newest first, with what a list shows already joined."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user=user).select_related("release__project")


def unread_for(user: Any) -> QuerySet[Notification]:
    return notifications_for(user).filter(read_at__isnull=True)


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _clean_ids(ids: Iterable[Any]) -> list[int]:
    try:
        return [int(i) for i in ids]
    except (TypeError, ValueError) as exc:
        raise ValidationError({"ids": "Give the numbers of the notifications."}) from exc


def mark_read(user: Any, ids: Iterable[Any]) -> int:
    """Mark some of the user's notifications read; other people's ids are ignored.

    Returns how many changed (already read ones do not count).
    """
    wanted = _clean_ids(ids)
    if not wanted:
        return 0
    return Notification.objects.filter(user=user, pk__in=wanted, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def mark_all_read(user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
