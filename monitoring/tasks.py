"""Celery tasks of monitoring: thin, safe to run twice (see ``monitoring.poller``,
``monitoring.health`` and ``monitoring.rollback_webhook``).

``poll_group`` is routed to its own queue (``settings.POLL_QUEUE``): fetches wait on providers,
so the worker that serves that queue runs a thread pool (``--pool threads``) with many more
fetches in flight than a process pool could afford.
"""

from __future__ import annotations

import random

from celery import Task, shared_task
from django.utils import timezone

from monitoring import commit_range, health, poller, rollback_webhook, scope_import

# The delivery task's limits; ``rollback_webhook.SEND_LEASE`` is longer than the hard one.
WEBHOOK_SOFT_TIME_LIMIT = 45
WEBHOOK_TIME_LIMIT = 60


@shared_task(ignore_result=True, expires=poller.EXPIRES_SECONDS)
def dispatch_due_checks() -> int:
    """Beat ticks this every few seconds: claim what is due, one fetch task per group."""
    dispatch = poller.claim_due_checks()
    expires = timezone.now() + timezone.timedelta(seconds=poller.EXPIRES_SECONDS)
    for claim in dispatch.claims:
        poll_group.apply_async(
            args=(claim.check_ids, claim.token),
            countdown=random.uniform(0, poller.MAX_JITTER_SECONDS),
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
    soft_time_limit=poller.FETCH_SOFT_TIME_LIMIT,
    time_limit=poller.FETCH_TIME_LIMIT,
)
def poll_group(check_ids: list[int], claim: str) -> int:
    return poller.poll_group(check_ids, claim)


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
    delivery = rollback_webhook.deliver(call_id)
    if delivery.retry_in is not None:
        # Attempts are counted on the row, not by Celery: a redelivered message cannot add any.
        raise self.retry(countdown=delivery.retry_in, max_retries=None)
    return delivery.outcome


# --- scope from trackers and the commit range ---------------------------------------------------


@shared_task(ignore_result=True)
def sync_scope_source(source_id: int, user_id: int | None = None) -> None:
    """A scope source's first sync, right after it was added."""
    scope_import.sync_by_id(source_id, user_id)


@shared_task(ignore_result=True)
def read_commit_range(release_id: int) -> None:
    """Compare the release's commit with the previous release's (scope locked, commit set)."""
    commit_range.read_by_id(release_id)


@shared_task(ignore_result=True)
def release_tracker_versions(release_id: int) -> None:
    scope_import.release_by_id(release_id)


@shared_task(ignore_result=True, expires=10 * 60)
def sync_tracker_scope() -> int:
    """Beat: scopes follow their trackers, commit ranges not read for the current commit are
    read, and Jira versions that failed to release are tried again."""
    synced = scope_import.sync_due_sources()
    read = commit_range.read_due_ranges()
    released = scope_import.release_due_versions()
    return synced + read + released
