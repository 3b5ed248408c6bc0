"""Polling: reading checks now on request, and writing what a fetch observed back to its checks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from monitoring import timing
from monitoring.integrations.base import Observation
from monitoring.models import Check, CheckStatus
from monitoring.services.checks import POLLED_STATUSES
from monitoring.services.results import STATE_FIELDS, apply_observation, rerun_outstanding
from releases import permissions as rules
from releases.errors import Refused
from releases.models import Release
from releases.permissions import access_for


def poll_check_now(check: Check, *, by: Any) -> Check:
    """Read the check at the next dispatcher tick instead of waiting for its interval."""
    if check.release_id is None:
        raise Refused("This check is a project template.")
    rules.EDIT_CHECKS.check(access_for(by, check.release))
    release = check.release
    if release.status not in POLLED_STATUSES[check.phase] or not check.integration.is_polled:
        raise Refused("This check is not being read now.")
    Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now(), poll_claim=None)
    check.refresh_from_db()
    return check


def read_checks_now(check_ids: Iterable[int]) -> int:
    """Make checks due at the next dispatcher tick (a webhook said something changed). Only
    checks being read in their phase; a fetch in flight for them is void."""
    check_ids = list(check_ids)
    if not check_ids:
        return 0
    return Check.objects.filter(pk__in=check_ids, next_poll_at__isnull=False).update(
        next_poll_at=timezone.now(), poll_claim=None
    )


# --- results of a poll --------------------------------------------------------------------------


def record_poll_results(
    results: Sequence[tuple[Check, Observation | None, str]],
    *,
    claim: Any,
    now: dt.datetime,
    retry_at: dt.datetime | None = None,
    actor: str = "poller",
) -> int:
    """Write one poll's observations — ``(check, observation, sha)`` — for the checks that
    still hold ``claim``. Returns how many were written.

    Compare-and-set: the claim is released as it is written, so a redelivered task, or one whose
    checks were edited or restarted meanwhile, writes nothing.
    """
    if not results:
        return 0
    by_pk = {check.pk: (observation, sha) for check, observation, sha in results}
    release_ids = sorted({check.release_id for check, _o, _s in results})
    written = 0
    with transaction.atomic():
        # Releases first, in a fixed order, as every other service does: no deadlocks.
        releases = {
            r.pk: r
            for r in Release.objects.select_for_update()
            .select_related("project")
            .filter(pk__in=release_ids)
            .order_by("pk")
        }
        checks = list(
            Check.objects.select_for_update()
            .filter(pk__in=list(by_pk), poll_claim=claim)
            .order_by("pk")
        )
        for check in checks:
            release = releases[check.release_id]
            observation, sha = by_pk[check.pk]
            read = rerun_outstanding(check, observation)
            apply_observation(check, release, read, sha=sha, source="poll", by=actor, now=now)
            check.poll_claim = None
            check.next_poll_at = _next_poll(check, release, observation, now, retry_at)
            if observation is None:
                pass  # nothing was fetched: the validator stays as it is
            elif observation.status == CheckStatus.ERROR:
                # A 304 may only confirm a result read successfully, never an error.
                check.etag = ""
            else:
                check.etag = (observation.etag or "")[:200]
                if read is observation and not observation.unchanged:
                    # What a poll reads is the provider's word: it replaces any pushed result,
                    # whatever facts that claimed.
                    ev = observation.evidence
                    check.evidence = ev.as_json() if ev is not None else {}
            written += 1
        save_alike(checks, [*STATE_FIELDS, "poll_claim", "next_poll_at", "etag", "evidence"])
    return written


def save_alike(checks: Sequence[Check], fields: Sequence[str]) -> None:
    """Save ``fields`` of many checks with one plain UPDATE per distinct set of values.

    The checks of one fetch mostly end up with the same values (same answer, same time, same
    interval), so this is usually one query; ``bulk_update``'s CASE per field and row costs far
    more to build than to run.
    """
    alike: dict[tuple[Any, ...], list[int]] = {}
    values_of: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for check in checks:
        values = tuple(getattr(check, name) for name in fields)
        # JSON values (dicts) cannot be dictionary keys; their text can.
        key = tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in values)
        values_of[key] = values
        alike.setdefault(key, []).append(check.pk)
    for key, pks in alike.items():
        Check.objects.filter(pk__in=pks).update(**dict(zip(fields, values_of[key], strict=True)))


def _next_poll(
    check: Check,
    release: Release,
    observation: Observation | None,
    now: dt.datetime,
    retry_at: dt.datetime | None,
) -> dt.datetime | None:
    if release.status not in POLLED_STATUSES[check.phase]:
        return None
    if observation is None:  # nothing to fetch: only a timeout can still fall due
        end = timing.deadline(check)
        return end if end and end > now else None
    if observation.status == CheckStatus.ERROR:
        delay = timing.backoff_seconds(check.consecutive_errors, check.interval_seconds)
        when = now + dt.timedelta(seconds=delay)
        if observation.retry_after is not None:
            when = max(when, now + dt.timedelta(seconds=observation.retry_after))
        if retry_at is not None:
            when = max(when, retry_at)
    else:
        when = now + dt.timedelta(seconds=check.interval_seconds)
    end = timing.deadline(check)
    if end is not None and now < end < when:
        when = end
    return when
