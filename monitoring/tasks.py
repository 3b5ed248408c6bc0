"""Celery tasks of monitoring: thin, safe to run twice (see ``monitoring.services.polling``,
``monitoring.services.health`` and ``monitoring.services.rollback``).

``poll_group`` is routed to its own queue (``settings.POLL_QUEUE``): fetches wait on providers,
so the worker that serves that queue runs a thread pool (``--pool threads``) with many more
fetches in flight than a process pool could afford.
"""

from __future__ import annotations

import datetime as dt
import random

from celery import Task, shared_task
from django.utils import timezone

from monitoring.services import commit_range, flags, health, polling, trackers
from monitoring.services.rollback import deliver
from releases.models import Release

# The delivery task's limits; ``rollback.SEND_LEASE`` is longer than the hard one.
WEBHOOK_SOFT_TIME_LIMIT = 45
WEBHOOK_TIME_LIMIT = 60


@shared_task(ignore_result=True, expires=polling.EXPIRES_SECONDS)
def dispatch_due_checks() -> int:
    """Beat ticks this every few seconds: claim what is due, one fetch task per group."""
    dispatch = polling.claim_due_checks()
    expires = timezone.now() + dt.timedelta(seconds=polling.EXPIRES_SECONDS)
    for claim in dispatch.claims:
        poll_group.apply_async(
            args=(claim.check_ids, claim.token),
            countdown=random.uniform(0, polling.MAX_JITTER_SECONDS),
            # A task still queued after this is dropped, not run late: its claim lapses and
            # a later tick claims the checks afresh.
            expires=expires,
        )
    return dispatch.checks


@shared_task(
    ignore_result=True,
    acks_late=True,
    # A worker killed mid-fetch puts the message back instead of acknowledging it; the claim
    # makes the second run write at most once.
    reject_on_worker_lost=True,
    # Enforced by a process pool only; in the poller's thread pool the HTTP client's timeouts
    # bound a fetch, and the claim's lease voids the writes of one that overruns it.
    soft_time_limit=polling.FETCH_SOFT_TIME_LIMIT,
    time_limit=polling.FETCH_TIME_LIMIT,
)
def poll_group(check_ids: list[int], claim: str) -> int:
    return polling.poll_group(check_ids, claim)


@shared_task(ignore_result=True, expires=60)
def watch_health_windows() -> int:
    """Beat: breaches whose hold time has passed, and monitoring windows that are over."""
    report = health.watch_health()
    return report.breaches + report.released


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=WEBHOOK_SOFT_TIME_LIMIT,
    time_limit=WEBHOOK_TIME_LIMIT,
)
def deliver_rollback_webhook(self: Task, call_id: int) -> str:
    """Call the rollback webhook once; the call's row says whether there is anything to send."""
    delivery = deliver(call_id)
    if delivery.retry_in is not None:
        # Attempts are counted on the row, not by Celery: a redelivered message cannot add any.
        raise self.retry(countdown=delivery.retry_in, max_retries=None)
    return delivery.outcome


# --- feature flags (``monitoring.services.flags``) ----------------------------------------------

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


# --- scope from trackers and the commit range ---------------------------------------------------


@shared_task(ignore_result=True)
def sync_scope_source(source_id: int, user_id: int | None = None) -> None:
    """A scope source's first sync, right after it was added."""
    trackers.sync_by_id(source_id, user_id)


@shared_task(ignore_result=True)
def read_commit_range(release_id: int) -> None:
    """Compare the release's commit with the previous release's (scope locked, commit set)."""
    commit_range.read_by_id(release_id)


@shared_task(ignore_result=True)
def release_tracker_versions(release_id: int) -> None:
    trackers.release_by_id(release_id)


@shared_task(ignore_result=True, expires=10 * 60)
def sync_tracker_scope() -> int:
    """Beat: scopes follow their trackers, commit ranges not read for the current commit are
    read, and Jira versions that failed to release are tried again."""
    synced = trackers.sync_due_sources()
    read = commit_range.read_due_ranges()
    released = trackers.release_due_versions()
    return synced + read + released
