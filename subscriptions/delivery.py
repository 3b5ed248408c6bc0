"""Sending one delivery: signed at each attempt, retried with exponential backoff, logged.

The row is claimed with a conditional UPDATE (``pending`` → ``sending``) so a task delivered
twice sends once. Every attempt signs the same body with the subscription's current secret and
a fresh timestamp, under the same delivery id. A 2xx ends it; no answer, a timeout, 408, 429 or
5xx puts it back to ``pending`` for another attempt after ``BASE_RETRY_SECONDS`` × 2ⁿ (or what
a 429 asked for, up to ``MAX_RETRY_SECONDS``), at most ``MAX_ATTEMPTS`` attempts; any other
answer (a redirect, a 4xx) or a refused address ends it as failed: sending it again unchanged
would be answered the same. People can send a finished delivery again from the log.

A receiver may see a delivery more than once (a worker stopped after sending and before
recording the answer is sent again): it answers 2xx to a delivery id it has seen, without
acting twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from django.db.models import F, Q
from django.utils import timezone

from lib import outbound
from lib.crypto import SecretsUnreadable
from subscriptions import signing
from subscriptions.models import Delivery

logger = logging.getLogger(__name__)

State = Delivery.State
MAX_ATTEMPTS = 8
# 10, 20, 40 … 640 s: about 21 minutes from the first attempt to the last.
BASE_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 900.0
TIMEOUT = outbound.Timeout(10.0, connect=5.0)
# Longer than the delivery task may run: a claim older than this belongs to a worker that is
# gone, and the delivery is sent again.
SEND_LEASE = dt.timedelta(seconds=120)
# A delivery still waiting this long after it was due lost its task (a broker outage, a
# restart): beat queues it again.
STALLED_AFTER = dt.timedelta(minutes=5)
EXCERPT_CHARS = 300
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Outcome:
    """What one run did. ``retry_in``: run again after this many seconds."""

    outcome: str  # delivered | failed | retry | busy | done
    retry_in: float | None = None
    detail: str = ""


def backoff(attempts: int, asked: float | None = None) -> float:
    """Seconds before the next attempt, after ``attempts`` attempts."""
    wait = BASE_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return min(MAX_RETRY_SECONDS, max(wait, asked or 0.0))


def deliver(
    pk: int,
    *,
    now: dt.datetime | None = None,
    transport: outbound.BaseTransport | None = None,
) -> Outcome:
    """Send the delivery once if it is due to be sent. Safe to run any number of times."""
    now = now or timezone.now()
    claim = uuid.uuid4()
    claimed = Delivery.objects.filter(pk=pk, state=State.PENDING).update(
        state=State.SENDING,
        claim=claim,
        claimed_at=now,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        next_attempt_at=None,
    )
    if not claimed:
        return _not_claimed(pk, now)
    delivery = Delivery.objects.select_related("subscription").get(pk=pk)
    subscription = delivery.subscription
    if not subscription.active:
        return _end(delivery, claim, now, State.FAILED, error="Not sent: the webhook is paused.")
    try:
        secret = subscription.secret
    except SecretsUnreadable as exc:
        return _end(delivery, claim, now, State.FAILED, error=str(exc))
    body = delivery.body.encode()
    headers = signing.headers(
        secret,
        timestamp=int(now.timestamp()),
        body=body,
        guid=str(delivery.guid),
        event=delivery.event,
    )
    started = time.monotonic()
    try:
        outbound.check_url(subscription.target_url)
        with outbound.Client(timeout=TIMEOUT, transport=transport) as client:
            response = client.request(
                "POST", subscription.target_url, headers=headers, content=body
            )
    except outbound.OutboundError as exc:
        duration = _ms(started)
        if exc.permanent:
            return _end(delivery, claim, now, State.FAILED, error=exc.message, duration=duration)
        return _again(delivery, claim, now, error=exc.message, duration=duration)
    duration = _ms(started)
    code = response.status_code
    excerpt = _excerpt(response)
    if 200 <= code < 300:
        return _end(
            delivery, claim, now, State.DELIVERED, code=code, duration=duration, excerpt=excerpt
        )
    error = f"The receiver answered HTTP {code}."
    if code in RETRY_STATUSES or code >= 500:
        asked = _retry_after(response.headers.get("retry-after"), now) if code == 429 else None
        return _again(
            delivery,
            claim,
            now,
            error=error,
            code=code,
            duration=duration,
            excerpt=excerpt,
            asked=asked,
        )
    return _end(
        delivery,
        claim,
        now,
        State.FAILED,
        error=error,
        code=code,
        duration=duration,
        excerpt=excerpt,
    )


def _not_claimed(pk: int, now: dt.datetime) -> Outcome:
    delivery = Delivery.objects.filter(pk=pk).only("state", "claimed_at").first()
    if delivery is None or delivery.state != State.SENDING:
        return Outcome("done", detail=delivery.state if delivery else "no such delivery")
    if delivery.claimed_at and now - delivery.claimed_at < SEND_LEASE:
        # Another run is sending it; come back when its lease is over to see how it ended.
        wait = SEND_LEASE - (now - delivery.claimed_at)
        return Outcome("busy", retry_in=wait.total_seconds() + 1)
    # The run that claimed it stopped mid-way. Unlike a rollback, an event sent twice is
    # harmless (the receiver knows the delivery id), so it is sent again.
    Delivery.objects.filter(pk=pk, state=State.SENDING, claimed_at=delivery.claimed_at).update(
        state=State.PENDING, claim=None, error="The worker stopped during the attempt."
    )
    return deliver(pk, now=now)


def _record(
    delivery: Delivery,
    claim: uuid.UUID,
    now: dt.datetime,
    *,
    state: str,
    error: str = "",
    code: int | None = None,
    duration: int | None = None,
    excerpt: str = "",
    next_attempt_at: dt.datetime | None = None,
) -> bool:
    entry = {
        "attempt": delivery.attempts,
        "at": now.isoformat(),
        "status": code,
        "duration_ms": duration,
        "error": error[:200],
    }
    done = Delivery.objects.filter(pk=delivery.pk, state=State.SENDING, claim=claim).update(
        state=state,
        claim=None,
        response_status=code,
        duration_ms=duration,
        response_excerpt=excerpt,
        error=error[:500],
        attempt_log=[*delivery.attempt_log, entry][-MAX_ATTEMPTS:],
        delivered_at=now if state == State.DELIVERED else None,
        next_attempt_at=next_attempt_at,
    )
    return bool(done)


def _end(
    delivery: Delivery, claim: uuid.UUID, now: dt.datetime, state: str, **result: object
) -> Outcome:
    _record(delivery, claim, now, state=state, **result)  # type: ignore[arg-type]
    if state == State.FAILED:
        logger.warning(
            "Webhook delivery %s to subscription %s failed: %s",
            delivery.pk,
            delivery.subscription_id,
            result.get("error"),
        )
        return Outcome("failed", detail=str(result.get("error", "")))
    return Outcome("delivered", detail=f"HTTP {result.get('code')}")


def _again(
    delivery: Delivery,
    claim: uuid.UUID,
    now: dt.datetime,
    *,
    error: str,
    asked: float | None = None,
    **result: object,
) -> Outcome:
    if delivery.attempts >= MAX_ATTEMPTS:
        return _end(
            delivery,
            claim,
            now,
            State.FAILED,
            error=f"{delivery.attempts} attempts failed; the last: {error}",
            **result,
        )
    wait = backoff(delivery.attempts, asked)
    _record(
        delivery,
        claim,
        now,
        state=State.PENDING,
        error=error,
        next_attempt_at=now + dt.timedelta(seconds=wait),
        **result,  # type: ignore[arg-type]
    )
    return Outcome("retry", retry_in=wait, detail=error)


def stalled() -> list[int]:
    """Deliveries whose task was lost: waiting well past their time, or claimed by a worker that
    is gone."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(
            Q(state=State.PENDING, next_attempt_at__lt=now - STALLED_AFTER)
            | Q(state=State.PENDING, next_attempt_at=None, created_at__lt=now - STALLED_AFTER)
            | Q(state=State.SENDING, claimed_at__lt=now - SEND_LEASE)
        ).values_list("pk", flat=True)[:500]
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _excerpt(response: outbound.Response) -> str:
    text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return " ".join(text.split())[:EXCERPT_CHARS]


def _retry_after(raw: str | None, now: dt.datetime) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw.strip()))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - now).total_seconds())
    except (TypeError, ValueError):
        return None
