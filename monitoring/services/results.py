"""Results of checks: what a poll, a report or a person observed, written to the check and its
history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from monitoring import signals, timing
from monitoring.integrations.base import PENDING, Evidence, Observation, Status
from monitoring.models import Check, CheckPhase, CheckResult, CheckStatus
from releases import access as rules
from releases.access import access_for
from releases.events import Actor, log_event
from releases.models import Release
from releases.services.common import lock_release


def write_status(
    check: Check,
    release: Release,
    *,
    status: str,
    value: str,
    detail: str,
    source: str,
    by: Actor,
    now: dt.datetime,
    numeric: float | None = None,
    url: str = "",
    sha: str = "",
    event: Any = None,
) -> CheckResult:
    """Change the check's status (not saved) and write its CheckResult and release event."""
    old = check.status
    check.status = status
    check.last_changed_at = now
    check.passing_since = now if status == CheckStatus.PASSING else None
    if status == CheckStatus.PASSING and check.first_passed_at is None:
        check.first_passed_at = now
    check.judged_at = now if source == "judgement" else None
    result = CheckResult.objects.create(
        check_ref=check,
        status=status,
        value=value[:200],
        numeric=numeric,
        detail=detail,
        url=url[:500],
        sha=sha,
        source=source,
        judged_by=by if source == "judgement" and not isinstance(by, str) else None,
        observed_at=now,
    )
    if event is None:
        event = log_event(
            release,
            actor=by if by is not None else source,
            verb="check_status",
            summary=f"Check “{check.name}”: {CheckStatus(old).label.lower()} → "
            f"{CheckStatus(status).label.lower()}" + (f" ({value})" if value else ""),
            before={"status": old},
            after={"status": status, "value": value},
            data={"check": check.pk, "source": source, "result": result.pk},
        )
    signals.check_status_changed.send(
        sender=Check, check=check, release=release, old=old, new=status, event=event
    )
    return result


STATE_FIELDS = [
    "status",
    "last_value",
    "last_detail",
    "last_url",
    "observed_sha",
    "last_evaluated_at",
    "last_changed_at",
    "passing_since",
    "first_passed_at",
    "judged_at",
    "consecutive_errors",
]


def apply_observation(
    check: Check,
    release: Release,
    observation: Observation | None,
    *,
    sha: str,
    source: str,
    by: Actor,
    now: dt.datetime,
) -> bool:
    """Apply what was observed to the check (not saved). Returns whether the status changed."""
    verdict = timing.decide(check, observation, now=now, sha=sha)
    check.consecutive_errors = timing.errors_in_a_row(check, observation)
    changed = verdict.status != check.status or bool(sha and sha != check.observed_sha)
    check.last_value = verdict.value[:200]
    check.last_detail = verdict.detail
    check.last_url = verdict.url[:500]
    check.last_evaluated_at = now
    if sha:
        check.observed_sha = sha
    if changed:
        write_status(
            check,
            release,
            status=verdict.status,
            value=verdict.value,
            numeric=verdict.numeric,
            detail=verdict.detail,
            url=verdict.url,
            sha=sha,
            source=source,
            by=by,
            now=now,
        )
    return changed


def record_check_result(
    check: Check,
    *,
    status: str,
    value: str = "",
    numeric: float | None = None,
    detail: str = "",
    url: str = "",
    sha: str = "",
    source: str = "poll",
    by: Actor = None,
) -> Check:
    """Record a result pushed by CI (API, webhook) or observed. A status change is a CheckResult
    row and a release event; the same status again only moves ``last_evaluated_at``.

    ``sha`` is the commit the result is about (the release's current commit when empty); a
    result about another commit is kept but does not count for this one.
    """
    if status not in CheckStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    release = check.release
    if release is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        now = timezone.now()
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(
            status=cast(Status, status), value=value, numeric=numeric, detail=detail, url=url
        )
        apply_observation(check, release, observation, sha=sha, source=source, by=by, now=now)
        # A pushed result was not read: the next poll must read the provider whole, not have a
        # 304 confirm a result it never saw.
        check.etag = ""
        check.save(update_fields=[*STATE_FIELDS, "etag"])
    return check


def record_provider_report(
    check: Check,
    *,
    evidence: Evidence,
    status: str,
    value: str = "",
    detail: str = "",
    url: str = "",
    sha: str = "",
    by: Actor = None,
) -> bool:
    """Record a result a provider pushed (a webhook) about one of its runs, unless what the
    check already holds is as new or newer by the provider's own facts. Returns whether it
    was recorded.

    Deliveries can be replayed (the delivery id is not signed), late or out of order: a report
    that is not newer changes nothing. A result recorded here lasts until the next poll, which
    reads the provider whole and decides.
    """
    if status not in CheckStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    release = check.release
    if release is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        if not evidence.is_newer_than(Evidence.from_json(check.evidence)):
            return False
        now = timezone.now()
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(status=cast(Status, status), value=value, detail=detail, url=url)
        apply_observation(check, release, observation, sha=sha, source="webhook", by=by, now=now)
        check.evidence = evidence.as_json()
        check.etag = ""
        check.save(update_fields=[*STATE_FIELDS, "etag", "evidence"])
    return True


def record_rerun_request(
    check: Check,
    *,
    requested_by: str,
    evidence: Evidence | None,
    sha: str = "",
    url: str = "",
    by: Actor = None,
) -> bool:
    """A run the check reads is being run again: its old result no longer counts, and the check
    is pending until a result newer than what was known when the re-run was asked for arrives
    (``evidence`` describes the run being re-run, for when the check knows nothing newer).
    Returns whether the check changed.
    """
    release = check.release
    if release is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        now = timezone.now()
        known = Evidence.from_json(check.evidence)
        if evidence is not None and evidence.is_newer_than(known):
            known = evidence
        detail = f"Re-run requested by {requested_by or 'someone'} at {now:%Y-%m-%d %H:%M} UTC."
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(status=PENDING, value="re-run", detail=detail, url=url)
        # Not ordered like results: a re-run request only ever takes the pass away, and the
        # result of the re-run decides.
        changed = apply_observation(
            check, release, observation, sha=sha, source="webhook", by=by, now=now
        )
        check.evidence = {
            **(known.as_json() if known else {}),
            "rerun": {"detail": detail, "after": known.as_json() if known else None},
        }
        check.etag = ""
        check.save(update_fields=[*STATE_FIELDS, "etag", "evidence"])
    return changed


def rerun_outstanding(check: Check, observation: Observation | None) -> Observation | None:
    """A poll's answer while a requested re-run has not shown up: still the old run's result,
    which no longer counts, so the check stays pending."""
    rerun = (check.evidence or {}).get("rerun")
    if not rerun or observation is None or observation.unchanged:
        return observation
    if observation.status == CheckStatus.ERROR:
        return observation
    after = Evidence.from_json(rerun.get("after"))
    if observation.evidence is not None and observation.evidence.is_newer_than(after):
        return observation
    return Observation(
        status=PENDING,
        value="re-run",
        detail=str(rerun.get("detail") or "A re-run was requested.") + " Waiting for its result.",
        url=observation.url,
        etag=observation.etag,
        evidence=None,
    )


def judge_check(check: Check, *, by: Any, passed: bool, reason: str) -> Check:
    """A person resolves a check the machines could not decide (audited, any kind of check).

    The judgement stands while the adapter still cannot decide on the same commit; a definite
    result replaces it.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why you judge the check this way."})
    release = check.release
    if release is None:
        raise Refused("This check is a project template.")
    rules.JUDGE_CHECKS.check(access_for(by, release))
    if not release.is_active:
        raise Refused(
            f"The release is {release.get_status_display().lower()}; its checks are closed."
        )
    with transaction.atomic():
        release = lock_release(release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        if check.status != CheckStatus.NEEDS_JUDGEMENT:
            raise Refused(
                f"Only a check that needs judgement can be judged; this one is "
                f"{check.get_status_display().lower()}."
            )
        now = timezone.now()
        value = "judged " + ("pass" if passed else "fail")
        check.last_value = value
        check.last_detail = reason
        check.last_evaluated_at = now
        write_status(
            check,
            release,
            status=CheckStatus.PASSING if passed else CheckStatus.FAILING,
            value=value,
            detail=reason,
            sha=check.observed_sha,
            source="judgement",
            by=by,
            now=now,
        )
        check.save(update_fields=STATE_FIELDS)
    return check
