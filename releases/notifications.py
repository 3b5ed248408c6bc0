"""Notifications: an in-app row per person, then email and the project's chat webhook.

Rows are written inside the caller's transaction; delivery happens in Celery tasks enqueued on
commit, so a slow or failing channel never breaks or delays the action that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

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
    from releases import tasks

    ids = [row.pk for row in rows]
    if ids:
        transaction.on_commit(partial(tasks.send_notification_emails.delay, ids), robust=True)
    if chat and release is not None and release.project.slack_webhook_url:
        transaction.on_commit(
            partial(tasks.post_to_chat.delay, release.project_id, message, url), robust=True
        )
    return rows


def absolute(url: str) -> str:
    return settings.SITE_URL.rstrip("/") + url if url.startswith("/") else url
