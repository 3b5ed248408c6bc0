"""Celery tasks of the feature flags: thin, safe to run twice (see ``monitoring.flags``)."""

from __future__ import annotations

from celery import Task, shared_task

from monitoring import flags
from releases.models import Release

SWITCH_SOFT_TIME_LIMIT = 45
SWITCH_TIME_LIMIT = 60


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SWITCH_SOFT_TIME_LIMIT,
    time_limit=SWITCH_TIME_LIMIT,
)
def switch_flag_off(self: Task, switch_id: int) -> str:
    """Switch one flag off; the switch's row says whether there is anything to do."""
    delivery = flags.deliver_switch(switch_id)
    if delivery.retry_in is not None:
        # Attempts are counted on the row, not by Celery: a redelivered message cannot add any.
        raise self.retry(countdown=delivery.retry_in, max_retries=None)
    return delivery.outcome


@shared_task(ignore_result=True, expires=60)
def read_release_flags(release_id: int) -> int:
    release = Release.objects.filter(pk=release_id).first()
    return flags.read_flag_states(release) if release is not None else 0


@shared_task(ignore_result=True, expires=60)
def read_active_flags() -> int:
    """Beat: the flags of every active release, for the release pages."""
    for release_id in flags.releases_to_read():
        read_release_flags.delay(release_id)
    return 0
