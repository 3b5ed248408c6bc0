"""Celery tasks of monitoring: thin, safe to run twice (see ``monitoring.poller``)."""

from __future__ import annotations

import random

from celery import shared_task
from django.utils import timezone

from monitoring import poller


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
    soft_time_limit=poller.FETCH_SOFT_TIME_LIMIT,
    time_limit=poller.FETCH_TIME_LIMIT,
)
def poll_group(check_ids: list[int], claim: str) -> int:
    return poller.poll_group(check_ids, claim)
