"""chat follows releases: after every committed release event, Slack is brought up to date."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import F
from django.dispatch import receiver

from chat import tasks
from chat.models import ApprovedContent, SlackApp
from releases import signals

logger = logging.getLogger(__name__)


@receiver(signals.approved_content_changed)
def count_content_change(sender: Any, release: Any, **kwargs: Any) -> None:
    """Inside the change's transaction, with the release row locked by it: buttons drawn
    before this change are refused from now on."""
    counted = ApprovedContent.objects.filter(release_id=release.pk).update(changes=F("changes") + 1)
    if not counted:
        ApprovedContent.objects.create(release_id=release.pk, changes=1)


@receiver(signals.event_logged)
def follow_in_slack(sender: Any, event: Any, **kwargs: Any) -> None:
    if not SlackApp.objects.filter(project_id=event.release.project_id).exists():
        return
    try:
        tasks.follow_event.delay(event.pk)
    except Exception:
        # The change is committed; a broker that is down must not turn it into an error page.
        logger.exception("Slack update after event %s not queued", event.pk)
