"""Celery tasks of the releases app: thin, safe to run twice."""

from __future__ import annotations

import httpx
from celery import shared_task
from django.core.mail import send_mail

from releases.models import Notification, Project
from releases.notifications import absolute


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def send_notification_emails(notification_ids: list[int]) -> int:
    sent = 0
    for note in Notification.objects.filter(pk__in=notification_ids).select_related("user"):
        if not note.user.email:
            continue
        send_mail(
            subject=f"[Greenlight] {note.message[:80]}",
            message=f"{note.message}\n\n{absolute(note.url)}",
            from_email=None,
            recipient_list=[note.user.email],
        )
        sent += 1
    return sent


@shared_task(
    autoretry_for=(httpx.HTTPError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def post_to_chat(project_id: int, message: str, url: str = "") -> None:
    project = Project.objects.filter(pk=project_id).only("slack_webhook_url").first()
    if project is None or not project.slack_webhook_url:
        return
    text = f"{message} <{absolute(url)}|Open in Greenlight>" if url else message
    response = httpx.post(project.slack_webhook_url, json={"text": text}, timeout=10)
    response.raise_for_status()


@shared_task(expires=300)
def schedule_trains() -> int:
    """Create the upcoming releases of every release train (safe to run twice)."""
    from releases import trains

    return len(trains.schedule_train_releases())


@shared_task(expires=300)
def remind_code_freeze() -> int:
    from releases import trains

    return trains.send_freeze_reminders()


@shared_task(expires=120)
def complete_healthy_releases() -> int:
    """Releases whose monitoring window passed healthy become released."""
    from releases import services

    return len(services.complete_healthy_releases())
