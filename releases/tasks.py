"""Celery tasks of the releases app: thin, safe to run twice.

Notification delivery retries what may pass on a later try (an SMTP server that is down, a chat
webhook answering 5xx or 429, a timeout) with exponential backoff and full jitter, a bounded
number of times; a channel that refuses for good (4xx) is logged and left. Either way the change
that caused the notification was committed long before.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypedDict

from celery import shared_task
from django.core.mail import send_mail
from django.utils import timezone

from lib import outbound
from lib.links import absolute
from releases.models import Notification, Project
from releases.services import trains

logger = logging.getLogger(__name__)


# Shared by both channels: 2 s, 4 s, 8 s … capped at 10 min, each drawn at random below that
# (full jitter, so a webhook that comes back is not hit by every worker at the same second).
class RetryOptions(TypedDict):
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


RETRY: RetryOptions = {
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


class ChatUnavailable(Exception):
    """The chat webhook did not answer, or answered in a way that may pass (5xx, 429): try again
    later."""


def subject_for(message: str) -> str:
    """A one-line mail subject: line breaks in what people typed (a reason, a comment) would
    otherwise end the header and start new ones."""
    return "[Greenlight] " + " ".join(message.split())[:80]


# Any failure is tried again: a send that failed is released for the next try (and for a later
# run of this task), never dropped. The last failure is logged as an error.
@shared_task(autoretry_for=(Exception,), **RETRY)
def send_notification_emails(notification_ids: list[int]) -> int:
    """Email each notification once.

    Each row is claimed (``emailed_at``) before it is sent and released again if the send fails,
    so a retry or a second delivery of this task mails only what has not gone out yet.
    """
    sent = 0
    failure: Exception | None = None
    notes = Notification.objects.filter(pk__in=notification_ids).select_related("user")
    for note in notes:
        if not note.user.email:
            continue
        claimed = Notification.objects.filter(pk=note.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed:
            continue  # mailed already, or another worker has it
        try:
            send_mail(
                subject=subject_for(note.message),
                message=f"{note.message}\n\n{absolute(note.url)}",
                from_email=None,
                recipient_list=[note.user.email],
                using="default",
            )
        except Exception as exc:  # smtplib's errors are OSErrors; a mailer's own may be anything
            Notification.objects.filter(pk=note.pk).update(emailed_at=None)
            logger.warning("Email for notification %s failed: %r", note.pk, exc)
            failure = failure or exc
            continue  # the others still go out now
        sent += 1
    if failure is not None:
        raise failure
    return sent


# Mail that every retry of its task failed to send (a mail server down for an hour) is sent by
# this sweep once the server is back. Old enough that its own task has given up; young enough
# that the news still matters.
UNSENT_AFTER = dt.timedelta(minutes=30)
UNSENT_UNTIL = dt.timedelta(days=2)


@shared_task(expires=600)
def send_unsent_emails() -> int:
    """Send again the notification emails whose tasks gave up; safe to run twice (claims)."""
    now = timezone.now()
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            created_at__lte=now - UNSENT_AFTER,
            created_at__gte=now - UNSENT_UNTIL,
        )
        .exclude(user__email="")
        .values_list("pk", flat=True)[:500]
    )
    if ids:
        send_notification_emails.delay(ids)
    return len(ids)


def chat_text(message: str) -> str:
    """``message`` as plain text in a Slack-compatible chat, which reads ``<…>`` as a link or a
    mention (``<!channel>``): people's words in it (a comment, a title) must stay words."""
    return message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@shared_task(autoretry_for=(ChatUnavailable,), **RETRY)
def post_to_chat(project_id: int, message: str, url: str = "") -> bool:
    """Post to the project's Slack-compatible incoming webhook; True when it was accepted."""
    project = Project.objects.filter(pk=project_id).only("slack_webhook_url").first()
    if project is None or not project.slack_webhook_url:
        return False
    text = chat_text(message)
    if url:
        text += f" <{absolute(url)}|Open in Greenlight>"
    try:
        with outbound.Client() as client:
            response = client.request("POST", project.slack_webhook_url, json={"text": text})
    except outbound.Unreachable as exc:
        raise ChatUnavailable(f"chat webhook: {exc.message}") from exc
    except outbound.OutboundError as exc:
        # Refused by the egress policy or not a URL: no retry heals that.
        logger.warning("Chat webhook of project %s not called: %s", project_id, exc.message)
        return False
    if response.status_code == 429 or response.status_code >= 500:
        raise ChatUnavailable(f"chat webhook answered {response.status_code}")
    if response.is_error:
        # A wrong or revoked webhook URL does not heal by itself: no retry.
        logger.warning(
            "Chat webhook of project %s refused the message: %s %s",
            project_id,
            response.status_code,
            response.text[:200],
        )
        return False
    return True


@shared_task(expires=300)
def schedule_trains() -> int:
    """Create the upcoming releases of every release train (safe to run twice)."""
    return len(trains.schedule_train_releases())


@shared_task(expires=300)
def remind_code_freeze() -> int:
    return trains.send_freeze_reminders()
