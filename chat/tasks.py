"""Celery tasks of chat: thin, safe to run twice (a message's digest stops a repeated update)."""

from __future__ import annotations

import logging

from celery import shared_task

from chat import messages
from chat.models import SlackApp
from chat.slack import SlackClient, SlackError, SlackUnavailable
from releases.models import ReleaseEvent
from releases.tasks import RETRY

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(SlackUnavailable,), **RETRY)
def follow_event(event_id: int) -> None:
    event = ReleaseEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    try:
        messages.follow(event)
    except SlackUnavailable:
        raise
    except SlackError as exc:
        # A revoked token or a missing scope does not heal by retrying; the operator sees it.
        logger.warning("Slack not updated after event %s: %s", event_id, exc)


@shared_task(autoretry_for=(SlackUnavailable,), **RETRY)
def say_privately(app_id: int, channel: str, slack_user_id: str, text: str) -> None:
    """An answer only the person who pressed a button sees."""
    app = SlackApp.objects.filter(pk=app_id).first()
    if app is None:
        return
    try:
        with SlackClient(app.bot_token) as slack:
            slack.post_ephemeral(channel, slack_user_id, text=text)
    except SlackUnavailable:
        raise
    except SlackError as exc:
        logger.warning("Private answer in Slack not sent: %s", exc)
