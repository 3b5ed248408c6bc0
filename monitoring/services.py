"""Operations on checks: copying templates, recording what was observed, judging by hand."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.models import Check, CheckPhase, CheckResult, CheckStatus
from releases import services as release_services
from releases.errors import Refused
from releases.events import Actor, log_event
from releases.models import Release

TEMPLATE_FIELDS = (
    "integration",
    "name",
    "phase",
    "required",
    "params",
    "comparator",
    "threshold",
    "stabilisation_seconds",
    "interval_seconds",
    "hold_seconds",
    "timeout_seconds",
)


def copy_check_templates(release: Release) -> list[Check]:
    templates = Check.objects.filter(project=release.project, release__isnull=True)
    now = timezone.now()
    checks = [
        Check(
            release=release,
            next_poll_at=now if t.phase == CheckPhase.PRE_RELEASE else None,
            **{name: getattr(t, name) for name in TEMPLATE_FIELDS},
        )
        for t in templates
    ]
    return Check.objects.bulk_create(checks)


def poll_pre_release_checks_now(release: Release) -> int:
    return Check.objects.filter(release=release, phase=CheckPhase.PRE_RELEASE).update(
        next_poll_at=timezone.now()
    )


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
    """Write what was observed. A status change is a CheckResult row and a release event;
    the same status again only moves ``last_evaluated_at``."""
    if status not in CheckStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if check.release_id is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = release_services.lock_release(check.release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        now = timezone.now()
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        changed = status != check.status or (sha and sha != check.observed_sha)
        old = check.status
        check.last_value = value[:200]
        check.last_detail = detail
        check.last_url = url[:500]
        check.last_evaluated_at = now
        check.observed_sha = sha
        fields = ["last_value", "last_detail", "last_url", "last_evaluated_at", "observed_sha"]
        if changed:
            check.status = status
            check.last_changed_at = now
            check.passing_since = now if status == CheckStatus.PASSING else None
            check.consecutive_errors = (
                check.consecutive_errors + 1 if status == CheckStatus.ERROR else 0
            )
            fields += ["status", "last_changed_at", "passing_since", "consecutive_errors"]
        check.save(update_fields=fields)
        if changed:
            CheckResult.objects.create(
                check_ref=check,
                status=status,
                value=value[:200],
                numeric=numeric,
                detail=detail,
                url=url[:500],
                sha=sha,
                source=source,
                judged_by=by if source == "judgement" else None,
                observed_at=now,
            )
            log_event(
                release,
                actor=by if by is not None else source,
                verb="check_status",
                summary=f"Check “{check.name}”: {CheckStatus(old).label.lower()} → "
                f"{CheckStatus(status).label.lower()}" + (f" ({value})" if value else ""),
                before={"status": old},
                after={"status": status, "value": value},
                data={"check": check.pk, "source": source},
            )
    return check


def judge_check(check: Check, *, by: Any, passed: bool, reason: str) -> Check:
    """A person resolves a check the machines could not decide (audited)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why you judge the check this way."})
    if check.status != CheckStatus.NEEDS_JUDGEMENT:
        raise Refused(
            f"Only a check that needs judgement can be judged; this one is "
            f"{check.get_status_display().lower()}."
        )
    return record_check_result(
        check,
        status=CheckStatus.PASSING if passed else CheckStatus.FAILING,
        value="judged " + ("pass" if passed else "fail"),
        detail=reason,
        source="judgement",
        by=by,
    )
