"""Thin tasks: send one delivery; queue again the ones whose task was lost."""

from __future__ import annotations

from celery import Task, shared_task

from subscriptions import delivery

# The task's limits; ``delivery.SEND_LEASE`` is longer than the hard one.
SOFT_TIME_LIMIT = 45
TIME_LIMIT = 60


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def deliver_webhook(self: Task, delivery_pk: int) -> str:
    """Send the delivery once; its row says whether there is anything to send."""
    outcome = delivery.deliver(delivery_pk)
    if outcome.retry_in is not None:
        # Attempts are counted on the row, not by Celery: a redelivered message cannot add any.
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.outcome


@shared_task(ignore_result=True)
def resend_stalled_webhooks() -> int:
    """Beat runs this every few minutes: a delivery whose task was lost is queued again."""
    pks = delivery.stalled()
    for pk in pks:
        deliver_webhook.delay(pk)
    return len(pks)
