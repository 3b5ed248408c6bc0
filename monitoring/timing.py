"""How an observation becomes a check's status, and when the check is read next.

Pure functions of a check's current state, what was observed and the time: no I/O, so the rules
(timeout, errors past a limit, a person's judgement, backoff) are tested without a clock or a
network.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from lib.wording import duration
from monitoring.integrations.base import Observation
from monitoring.models import Check, CheckStatus

# After this many error answers in a row the machines give up deciding and ask a person.
ERRORS_BEFORE_JUDGEMENT = 10
# Backoff after errors: the interval doubles per error, up to this (but never below the interval).
BACKOFF_CAP_SECONDS = 900


@dataclass(frozen=True)
class Verdict:
    """What the check's status becomes."""

    status: str
    value: str = ""
    numeric: float | None = None
    detail: str = ""
    url: str = ""


def decide(
    check: Check, observation: Observation | None, *, now: dt.datetime, sha: str = ""
) -> Verdict:
    """The status ``check`` takes after ``observation`` (None: no new evidence, only time).

    - A 304 (``unchanged``) or no observation keeps the previous result.
    - Errors past ``ERRORS_BEFORE_JUDGEMENT`` in a row become "needs judgement".
    - A person's judgement stands while the adapter still cannot decide on the same commit.
    - A check that has not passed once within its timeout fails — unless it passes now.
    """
    if observation is None or observation.unchanged:
        verdict = Verdict(
            status=check.status,
            value=check.last_value,
            detail=check.last_detail,
            url=(observation.url if observation else "") or check.last_url,
        )
    else:
        verdict = Verdict(
            status=observation.status,
            value=observation.value,
            numeric=observation.numeric,
            detail=observation.detail,
            url=observation.url,
        )

    if verdict.status == CheckStatus.ERROR and observation is not None:
        errors = check.consecutive_errors + 1
        if errors >= ERRORS_BEFORE_JUDGEMENT:
            verdict = Verdict(
                status=CheckStatus.NEEDS_JUDGEMENT,
                value="no answer",
                detail=f"{errors} attempts in a row brought no answer; the last: "
                f"{observation.detail}",
                url=verdict.url,
            )

    same_commit = not sha or not check.observed_sha or sha == check.observed_sha
    if (
        verdict.status == CheckStatus.NEEDS_JUDGEMENT
        and check.judged_at is not None
        and same_commit
        and check.status in (CheckStatus.PASSING, CheckStatus.FAILING)
    ):
        verdict = Verdict(
            status=check.status,
            value=check.last_value,
            detail=check.last_detail,
            url=check.last_url,
        )

    if verdict.status not in (CheckStatus.PASSING, CheckStatus.FAILING) and timed_out(check, now):
        waited = duration(check.timeout_seconds or 0)
        before = CheckStatus(verdict.status).label.lower()
        verdict = Verdict(
            status=CheckStatus.FAILING,
            value="timed out",
            detail=f"Not passing {waited} after it started (still {before}"
            + (f": {verdict.detail}" if verdict.detail else "")
            + ").",
            url=verdict.url,
        )
    return verdict


def deadline(check: Check) -> dt.datetime | None:
    """When a check that never passed fails; None without a timeout or once it has passed."""
    if not check.timeout_seconds or check.started_at is None or check.first_passed_at:
        return None
    return check.started_at + dt.timedelta(seconds=check.timeout_seconds)


def timed_out(check: Check, now: dt.datetime) -> bool:
    end = deadline(check)
    return end is not None and now >= end


def backoff_seconds(errors: int, interval: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: the interval doubled per error in a row, capped, then
    drawn from its upper half so that checks failing together do not retry together."""
    uniform = rng.uniform if rng is not None else random.uniform
    cap = max(BACKOFF_CAP_SECONDS, interval)
    ceiling = min(cap, interval * 2 ** max(0, errors - 1))
    return uniform(ceiling / 2, ceiling)


def first_poll_at(check: Check, now: dt.datetime) -> dt.datetime:
    """The first evaluation waits for the stabilisation delay."""
    return now + dt.timedelta(seconds=check.stabilisation_seconds)


def errors_in_a_row(check: Check, observation: Observation | None) -> int:
    """Error answers in a row after ``observation``; no observation (only time passed) keeps it."""
    if observation is None:
        return check.consecutive_errors
    if observation.status == CheckStatus.ERROR and not observation.unchanged:
        return check.consecutive_errors + 1
    return 0
