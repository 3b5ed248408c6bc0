"""chat follows releases: after every committed release event, Slack is brought up to date."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from chat import tasks
from chat.models import SlackApp
from releases import signals

logger = logging.getLogger(__name__)


@receiver(signals.event_logged)
def follow_in_slack(sender: Any, event: Any, **kwargs: Any) -> None:
    if not SlackApp.objects.filter(project_id=event.release.project_id).exists():
        return
    try:
        tasks.follow_event.delay(event.pk)
    except Exception:
        # The change is committed; a broker that is down must not turn it into an error page.
        logger.exception("Slack update after event %s not queued", event.pk)
