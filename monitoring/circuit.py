"""A circuit breaker per integration, with its state in the integration's row.

Every worker reads and writes the same row, so they agree: after ``FAILURE_THRESHOLD`` failed
fetches in a row the circuit opens and no worker calls the provider; after ``COOLDOWN_SECONDS``
exactly one worker wins the conditional update to half-open and makes a trial call. Its success
closes the circuit, its failure opens it again. A provider's "come back later" (429 Retry-After,
rate-limit reset headers) is kept in ``backoff_until`` and honoured the same way.

While the circuit is open the integration's checks show an error — never a pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from monitoring.models import CircuitState, Integration

FAILURE_THRESHOLD = 5
COOLDOWN_SECONDS = 120
# A rate-limit wait longer than this is capped: a provider's clock or header can be wrong, and
# polling resumes at worst after this long.
MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class Permit:
    allowed: bool
    # Why not, in words for the check's detail, and when to come back.
    label: str = ""
    reason: str = ""
    retry_at: dt.datetime | None = None
    trial: bool = False


def _at(moment: dt.datetime) -> str:
    return f"{moment:%H:%M:%S} UTC"


def permit(integration: Integration, *, now: dt.datetime) -> Permit:
    """May a worker call this integration's provider now? Takes the half-open trial if due."""
    if integration.backoff_until and integration.backoff_until > now:
        return Permit(
            allowed=False,
            label="rate limited",
            reason=f"{integration.name} asked us to wait; next try at "
            f"{_at(integration.backoff_until)}.",
            retry_at=integration.backoff_until,
        )
    if integration.circuit_state == CircuitState.CLOSED:
        return Permit(allowed=True)

    opened = integration.circuit_opened_at or now
    reopen_at = opened + dt.timedelta(seconds=COOLDOWN_SECONDS)
    if now >= reopen_at:
        # Compare-and-set on the state we read: of all the workers that get here, exactly one
        # updates the row and makes the trial call. A half-open trial whose worker died is
        # taken over after another cooldown.
        won = Integration.objects.filter(
            pk=integration.pk,
            circuit_state=integration.circuit_state,
            circuit_opened_at=integration.circuit_opened_at,
        ).update(circuit_state=CircuitState.HALF_OPEN, circuit_opened_at=now)
        if won:
            integration.circuit_state = CircuitState.HALF_OPEN
            integration.circuit_opened_at = now
            return Permit(allowed=True, trial=True)
        reopen_at = now + dt.timedelta(seconds=5)
    failures = integration.consecutive_failures
    return Permit(
        allowed=False,
        label="circuit open",
        reason=f"{integration.name} failed {failures} times in a row, so it is not called for "
        f"a while; next try at {_at(reopen_at)}. Last error: {integration.last_error}",
        retry_at=reopen_at,
    )


def record_success(integration: Integration, *, now: dt.datetime) -> None:
    """An answer came back: the integration is healthy and the circuit closes."""
    Integration.objects.filter(pk=integration.pk).update(
        last_success_at=now,
        consecutive_failures=0,
        circuit_state=CircuitState.CLOSED,
        circuit_opened_at=None,
        backoff_until=None,
    )


def record_failure(
    integration: Integration, *, now: dt.datetime, error: str, retry_after: float | None = None
) -> bool:
    """A fetch failed. Returns whether this failure opened the circuit."""
    with transaction.atomic():
        Integration.objects.filter(pk=integration.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        # The row lock orders concurrent failures, so the threshold is crossed exactly once.
        row = Integration.objects.select_for_update().get(pk=integration.pk)
        row.last_error_at = now
        row.last_error = error[:500]
        fields = ["last_error_at", "last_error"]
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), MAX_BACKOFF_SECONDS)
            row.backoff_until = now + dt.timedelta(seconds=wait)
            fields.append("backoff_until")
        opens = row.circuit_state == CircuitState.HALF_OPEN or (
            row.circuit_state == CircuitState.CLOSED
            and row.consecutive_failures >= FAILURE_THRESHOLD
        )
        if opens:
            row.circuit_state = CircuitState.OPEN
            row.circuit_opened_at = now
            fields += ["circuit_state", "circuit_opened_at"]
        row.save(update_fields=fields)
    return opens
