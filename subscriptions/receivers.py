"""Outgoing webhooks follow the releases through ``releases.signals.event_logged``."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from releases.models import ReleaseEvent
from releases.signals import event_logged
from subscriptions import services

logger = logging.getLogger(__name__)


@receiver(event_logged, dispatch_uid="subscriptions.queue_deliveries")
def queue_deliveries(sender: Any, event: ReleaseEvent, **kwargs: Any) -> None:
    # Sent after the change committed: a failure here must not turn the person's successful
    # change into an error page. It is logged; the change stands.
    try:
        services.queue_deliveries(event)
    except Exception:
        logger.exception("Could not queue the webhook deliveries of release event %s", event.pk)
