"""Polling: claim the checks that are due, fetch each (integration, request) once, write; and read
a check now when someone asks.

Two halves, each run by a thin Celery task (``monitoring.tasks``):

:func:`claim_due_checks` — the dispatcher, ticked by beat every few seconds. In one short
transaction it locks the due checks with ``SELECT … FOR UPDATE SKIP LOCKED`` (a second dispatcher
or a slow previous tick skips rows already taken instead of waiting or polling them twice),
groups them by integration and adapter request key, and claims each group: a fresh claim token on
every check and ``next_poll_at`` moved forward by a short lease, so the rows stop being due. The
caller enqueues one :func:`poll_group` task per claim after the commit.

:func:`poll_group` — one fetch for one group. It reads the checks that still hold the claim
(none: a redelivered task whose work is done, so it returns), asks the integration's circuit
breaker, fetches once through the adapter, records the integration's health and writes every
check's result with a compare-and-set on the claim (:func:`record_poll_results`). Running
it twice writes once. While it runs it renews its claim's lease; a claim whose task never ran
(lost, expired) or whose worker died stops being renewed, lapses, and the checks are claimed
again within a minute.

:func:`poll_check_now` — a person's or a client's "read it now": the check is due at the next
tick of the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from lib.errors import Refused
from monitoring import circuit, timing
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations.base import (
    ERROR,
    CheckSpec,
    Connection,
    Observation,
    group_key,
    observe_group,
)
from monitoring.integrations.http import HttpClient
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import Check, CheckPhase, CheckStatus, Integration, PollerHeartbeat
from monitoring.services.checks import POLLED_STATUSES
from monitoring.services.integrations import spec_for
from monitoring.services.results import STATE_FIELDS, apply_observation, rerun_outstanding
from releases import access as rules
from releases.access import access_for
from releases.models import Release

logger = logging.getLogger(__name__)

FETCH_SOFT_TIME_LIMIT = 100
FETCH_TIME_LIMIT = 120
# How long a claim holds without a sign of life. The task fetching for it renews it when it
# starts and every ``RENEW_SECONDS`` while it waits on the provider (up to its time limit), so a
# live fetch keeps its claim; the checks of a worker that died are free again at most
# ``LEASE_SECONDS`` after its last renewal, and the next tick of beat (every few seconds) claims
# them for a live worker: within a minute of the death.
LEASE_SECONDS: int = settings.POLL_LEASE_SECONDS
RENEW_SECONDS = LEASE_SECONDS / 3
# A task still queued when its claim has lapsed is dropped, not run late: the checks were
# claimed afresh by then.
EXPIRES_SECONDS = LEASE_SECONDS
# Checks claimed per tick: a backlog drains over a few ticks instead of one huge transaction.
CLAIM_LIMIT = 5000
# Fetch tasks start spread over this many seconds, so one tick does not hit every provider in
# the same instant.
MAX_JITTER_SECONDS = 2.0


@dataclass(frozen=True)
class Claim:
    integration_id: int
    check_ids: list[int]
    token: str


@dataclass
class Dispatch:
    claims: list[Claim] = field(default_factory=list)

    @property
    def checks(self) -> int:
        return sum(len(c.check_ids) for c in self.claims)


def due_checks(now: dt.datetime) -> Q:
    """Release checks whose time has come, in a phase the release is in, on enabled
    integrations. Templates (no release) are never polled."""
    in_phase = Q()
    for phase, statuses in POLLED_STATUSES.items():
        in_phase |= Q(phase=phase, release__status__in=statuses)
    return Q(release__isnull=False, next_poll_at__lte=now, integration__enabled=True) & in_phase


def _request_key(check: Check, connections: dict[int, Connection]) -> Hashable:
    integration = check.integration
    if not integration.is_polled:
        # Pushed results: nothing to fetch, the task only applies timeouts. One task per
        # integration is enough.
        return ("push",)
    conn = connections.get(integration.pk)
    if conn is None:
        # Grouping needs the settings, not the credentials: nothing is decrypted here.
        conn = connections[integration.pk] = integration.connection(with_secrets=False)
    return group_key(ADAPTERS[integration.kind], conn, spec_for(check))


def claim_due_checks(*, now: dt.datetime | None = None, limit: int = CLAIM_LIMIT) -> Dispatch:
    now = now or timezone.now()
    dispatch = Dispatch()
    with transaction.atomic():
        due = Check.objects.filter(due_checks(now)).order_by("next_poll_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            # Lock only the check rows (not the joined release and integration rows).
            due = due.select_for_update(skip_locked=True, of=("self",))
        # SQLite (the embedded default) has no row locks: select_for_update() is a no-op there,
        # and its transactions take the database write lock at BEGIN (transaction_mode
        # IMMEDIATE), so two dispatchers still run one after the other.
        ids = list(due.values_list("pk", flat=True)[:limit])
        checks = list(Check.objects.filter(pk__in=ids).select_related("release", "integration"))
        groups: dict[tuple[int, Hashable], list[Check]] = defaultdict(list)
        connections: dict[int, Connection] = {}
        for check in checks:
            groups[(check.integration_id, _request_key(check, connections))].append(check)
        lease = now + dt.timedelta(seconds=LEASE_SECONDS)
        for (integration_id, _key), members in groups.items():
            token = uuid.uuid4()
            pks = sorted(c.pk for c in members)
            Check.objects.filter(pk__in=pks).update(poll_claim=token, next_poll_at=lease)
            dispatch.claims.append(Claim(integration_id, pks, str(token)))
        PollerHeartbeat.objects.update_or_create(
            name="dispatcher",
            defaults={"ran_at": now, "claimed": len(checks), "groups": len(groups)},
        )
    return dispatch


def _same_etag(checks: list[Check]) -> str | None:
    # A 304 keeps every check's previous result, so the ETag is sent only when every check of
    # the group has a result from that very response.
    etags = {check.etag for check in checks}
    if len(etags) == 1 and "" not in etags:
        return etags.pop()
    return None


def _is_fetch_failure(observations: list[Observation]) -> bool:
    """Every check got an error from the provider (a misconfigured check is its own fault)."""
    return bool(observations) and all(
        o.status == ERROR and o.value != "misconfigured" for o in observations
    )


_client: tuple[int, HttpClient] | None = None
_client_lock = threading.Lock()


def _fresh_lock_after_fork() -> None:
    # A process pool forks its children from a parent whose lock may be held at that instant.
    global _client_lock
    _client_lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_after_fork)


def shared_client() -> HttpClient:
    """One HTTP client per worker process: its connection pool keeps connections to providers
    open between fetches. Made after the fork, never shared across processes; shared by the
    threads of the poller's thread pool (``httpx.Client`` may be, its pool locks)."""
    global _client
    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), HttpClient())
        return _client[1]


def poll_group(
    check_ids: list[int],
    claim: str,
    *,
    client: HttpClient | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Fetch once for the claimed checks and write their results. Returns checks written."""
    checks = list(
        Check.objects.filter(pk__in=check_ids, poll_claim=claim).select_related(
            "release", "integration"
        )
    )
    if not checks:
        return 0
    now = now or timezone.now()
    if not _renew(check_ids, claim, now):
        return 0
    with _LeaseKeeper(check_ids, claim):
        return _poll(checks, claim, client=client, now=now)


def _renew(check_ids: list[int], claim: str, now: dt.datetime | None = None) -> int:
    """Push the claim's lease forward; 0 when the claim was lost (it lapsed and was re-taken)."""
    lease = (now or timezone.now()) + dt.timedelta(seconds=LEASE_SECONDS)
    return Check.objects.filter(pk__in=check_ids, poll_claim=claim).update(next_poll_at=lease)


class _LeaseKeeper:
    """Renews a claim from a side thread while the fetch waits on the provider. It stops when
    the fetch ends, when the claim is lost, or at the fetch's time limit: a fetch hung past it
    loses its claim like a dead one."""

    def __init__(self, check_ids: list[int], claim: str) -> None:
        self.check_ids, self.claim = check_ids, claim
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{claim[:8]}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        deadline = timezone.now() + dt.timedelta(seconds=FETCH_TIME_LIMIT)
        try:
            while not self.stopped.wait(RENEW_SECONDS) and timezone.now() < deadline:
                if not _renew(self.check_ids, self.claim):
                    return
        except Exception:
            # A renewal that failed costs at most a second fetch: the claim's compare-and-set
            # keeps the writes single.
            logger.exception("Could not renew the claim %s", self.claim)
        finally:
            connection.close()


def _poll(checks: list[Check], claim: str, *, client: HttpClient | None, now: dt.datetime) -> int:
    integration = checks[0].integration
    specs = {check.pk: spec_for(check) for check in checks}
    results: list[tuple[Check, Observation | None, str]] = []

    def sha_of(check: Check) -> str:
        return specs[check.pk].sha if check.phase == CheckPhase.PRE_RELEASE else ""

    if not integration.is_polled:
        results = [(check, None, "") for check in checks]
        return record_poll_results(results, claim=claim, now=now)

    permit = circuit.permit(integration, now=now)
    if not permit.allowed:
        skipped = Observation(status=ERROR, value=permit.label, detail=permit.reason)
        results = [(check, skipped, sha_of(check)) for check in checks]
        return record_poll_results(results, claim=claim, now=now, retry_at=permit.retry_at)

    observations = _fetch(integration, checks, specs, client or shared_client())
    results = [(check, observations[check.pk], sha_of(check)) for check in checks]
    _record_health(integration, list(observations.values()), now)
    return record_poll_results(results, claim=claim, now=now)


def _fetch(
    integration: Integration,
    checks: list[Check],
    specs: dict[int, CheckSpec],
    client: HttpClient,
) -> dict[int, Observation]:
    adapter = ADAPTERS[integration.kind]
    try:
        conn = integration.connection()
    except SecretsUnreadable as exc:
        error = Observation(status=ERROR, value="credentials unreadable", detail=str(exc))
        return {check.pk: error for check in checks}
    # The dispatcher grouped these checks by request key; group again in case a release's
    # commit or a check changed in between (observe_group needs one key per call).
    groups: dict[Hashable, list[Check]] = defaultdict(list)
    for check in checks:
        groups[group_key(adapter, conn, specs[check.pk])].append(check)
    observations: dict[int, Observation] = {}
    for members in groups.values():
        answers = observe_group(
            adapter,
            conn,
            [specs[check.pk] for check in members],
            client,
            etag=_same_etag(members),
        )
        observations.update(zip((c.pk for c in members), answers, strict=True))
    return observations


def _record_health(
    integration: Integration, observations: list[Observation], now: dt.datetime
) -> None:
    if _is_fetch_failure(observations):
        first = observations[0]
        retry_after = max((o.retry_after or 0.0 for o in observations), default=0.0) or None
        opened = circuit.record_failure(
            integration, now=now, error=first.detail or first.value, retry_after=retry_after
        )
        if opened:
            logger.warning("Circuit opened for integration %s: %s", integration.pk, first.value)
    elif any(o.status != ERROR for o in observations):
        circuit.record_success(integration, now=now)


def poll_check_now(check: Check, *, by: Any) -> Check:
    """Read the check at the next dispatcher tick instead of waiting for its interval."""
    release = check.release
    if release is None:
        raise Refused("This check is a project template.")
    rules.EDIT_CHECKS.check(access_for(by, release))
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
    release_ids = sorted(
        {check.release_id for check, _o, _s in results if check.release_id is not None}
    )
    written = 0
    with transaction.atomic():
        # Releases first, in a fixed order, as every other service does: no deadlocks.
        releases: dict[int | None, Release] = {
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
