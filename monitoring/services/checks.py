"""Checks: templates on a project, a release's own checks, and when each phase's checks are read.

Every change to a release's checks has the usual shape: guard → ``transaction.atomic()`` with
the release row locked → change → ``log_event`` → side effects on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib import outbound
from lib.errors import NotAllowed, Refused
from lib.links import has_userinfo
from monitoring import timing
from monitoring.models import Check, CheckPhase, CheckStatus, Comparator, Integration
from monitoring.services.integrations import param_fields, unknown_fields
from monitoring.services.results import write_status
from releases import access as rules
from releases.access import access_for
from releases.events import log_event, log_project_change
from releases.models import Project, ProjectEventKind, Release, Status
from releases.services.common import lock_release, reject_unknown_fields

# Release statuses in which each phase's checks are read.
POLLED_STATUSES: dict[str, tuple[str, ...]] = {
    CheckPhase.PRE_RELEASE: (Status.PLANNING, Status.FROZEN, Status.APPROVED),
    CheckPhase.POST_RELEASE: (Status.MONITORING,),
}
# Reading a provider more often than this buys nothing and spends its rate limit.
MIN_INTERVAL_SECONDS = 10


# --- editing checks -----------------------------------------------------------------------------

CHECK_FIELDS = (
    "name",
    "integration",
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
# Changing one of these changes what the check reads or how it is judged: its evidence is
# collected again.
READING_FIELDS = ("integration", "params", "comparator", "threshold", "phase")


def _validate_check(project: Project, values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    integration = values.get("integration")
    if not isinstance(integration, Integration) or integration.project_id != project.pk:
        errors["integration"] = "Choose one of this project's integrations."
    if not str(values.get("name", "")).strip():
        errors["name"] = "Give the check a name."
    if values.get("phase") not in CheckPhase.values:
        errors["phase"] = "Choose pre-release or post-release."
    comparator = values.get("comparator") or ""
    if comparator and comparator not in Comparator.values:
        errors["comparator"] = f"Use one of {', '.join(Comparator.values)}."
    if bool(comparator) != (values.get("threshold") is not None):
        key = "threshold" if comparator else "comparator"
        errors[key] = "A comparator and a threshold go together."
    params = values.get("params") or {}
    if not isinstance(params, Mapping):
        errors["params"] = "Expected an object of names and values."
    elif isinstance(integration, Integration):
        fields = param_fields(integration.kind)
        if fields:
            for unknown in unknown_fields(params, fields):
                errors[f"params.{unknown}"] = "Not a parameter of this kind of check."
        for field in fields:
            if field.required and not str(params.get(field.name) or "").strip():
                errors[f"params.{field.name}"] = f"{field.label} is required."
        for name, value in params.items():
            # A URL a check calls is shown to every member and kept in the logs.
            if name.endswith("url") and isinstance(value, str) and has_userinfo(value):
                errors[f"params.{name}"] = outbound.CREDENTIALS_IN_URL
    interval = values.get("interval_seconds")
    if interval is not None and interval < MIN_INTERVAL_SECONDS:
        errors["interval_seconds"] = f"Poll at most every {MIN_INTERVAL_SECONDS} seconds."
    for name in ("stabilisation_seconds", "hold_seconds", "timeout_seconds", "interval_seconds"):
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors[name] = "Enter a whole number of seconds, 0 or more."
    if values.get("timeout_seconds") == 0:
        errors["timeout_seconds"] = "Leave it empty for no timeout."
    if errors:
        raise ValidationError(errors)


def _check_values(check: Check | None, fields: dict[str, Any]) -> dict[str, Any]:
    reject_unknown_fields(fields, CHECK_FIELDS, "check")
    values = {name: getattr(check, name) for name in CHECK_FIELDS} if check else {}
    if check is None:
        defaults = Check()
        values = {name: getattr(defaults, name, None) for name in CHECK_FIELDS}
        values["integration"] = None
    values.update(fields)
    values["name"] = str(values.get("name") or "").strip()
    params = values.get("params") or {}
    if isinstance(params, Mapping):
        values["params"] = {
            k: v.strip() if isinstance(v, str) else v
            for k, v in params.items()
            if v is not None and v != ""
        }
    values["comparator"] = values.get("comparator") or ""
    return values


def save_check_template(
    project: Project, *, by: Any, check: Check | None = None, **fields: Any
) -> Check:
    """A project's check, copied onto every release created afterwards."""
    rules.CONFIGURE_MONITORING.check(by, project)
    if check is not None and (check.project_id != project.pk or not check.is_template):
        raise NotAllowed("That check is not one of this project's templates.")
    values = _check_values(check, fields)
    _validate_check(project, values)
    with transaction.atomic():
        check = check or Check(project=project)
        for name, value in values.items():
            setattr(check, name, value)
        check.full_clean(exclude=["project", "release", "integration"])
        log_project_change(project, actor=by, kind=ProjectEventKind.CHECK_TEMPLATE, row=check)
        check.save()
    return check


def delete_check_template(check: Check, *, by: Any) -> None:
    """Releases keep their copies; only releases created later lose the check."""
    if not check.is_template:
        raise Refused("That check belongs to a release; remove it from the release.")
    rules.CONFIGURE_MONITORING.check(by, check.project)
    with transaction.atomic():
        log_project_change(
            check.project, actor=by, kind=ProjectEventKind.CHECK_TEMPLATE, row=check, removed=True
        )
        check.delete()


def _require_check_editor(by: Any, release: Release) -> None:
    rules.EDIT_CHECKS.check(access_for(by, release))
    if not release.is_active:
        raise Refused(
            f"The release is {release.get_status_display().lower()}; its checks no longer change."
        )


def _restart(check: Check, release: Release, now: dt.datetime) -> None:
    """Start a new evaluation period: timing counts from now; any fetch in flight is void."""
    check.started_at = now
    check.first_passed_at = None
    check.judged_at = None
    check.etag = ""
    check.evidence = {}
    check.poll_claim = None
    check.next_poll_at = None
    if release.status in POLLED_STATUSES[check.phase]:
        if check.integration.is_polled:
            check.next_poll_at = timing.first_poll_at(check, now)
        else:
            # Nothing to fetch, but the timeout still has to be applied when it falls due.
            check.next_poll_at = timing.deadline(check)


RESTART_FIELDS = [
    "started_at",
    "first_passed_at",
    "judged_at",
    "etag",
    "evidence",
    "poll_claim",
    "next_poll_at",
]


def save_release_check(
    release: Release, *, by: Any, check: Check | None = None, **fields: Any
) -> Check:
    """Add a check to a release or change one. A change to what it reads starts its evidence
    over: the status goes back to pending (recorded) and the check is read again."""
    _require_check_editor(by, release)
    if check is not None and check.release_id != release.pk:
        raise NotAllowed("That check belongs to another release.")
    values = _check_values(check, fields)
    _validate_check(release.project, values)
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(f"The release is {release.get_status_display().lower()}.")
        now = timezone.now()
        if check is None:
            check = Check(release=release, **values)
            check.full_clean(exclude=["project", "release", "integration"])
            _restart(check, release, now)
            check.save()
            log_event(
                release,
                actor=by,
                verb="check_added",
                summary=f"Check “{check.name}” added ({check.get_phase_display().lower()}, "
                f"{'required' if check.required else 'advisory'})",
                data={"check": check.pk},
            )
            return check
        check = Check.objects.select_for_update().select_related("integration").get(pk=check.pk)
        before = {name: _plain(getattr(check, name)) for name in CHECK_FIELDS}
        for name, value in values.items():
            setattr(check, name, value)
        check.full_clean(exclude=["project", "release", "integration"])
        after = {name: _plain(getattr(check, name)) for name in CHECK_FIELDS}
        changed = [name for name in CHECK_FIELDS if before[name] != after[name]]
        if not changed:
            return check
        reading = any(name in READING_FIELDS for name in changed)
        if reading or "stabilisation_seconds" in changed or "timeout_seconds" in changed:
            _restart(check, release, now)
        event = log_event(
            release,
            actor=by,
            verb="check_changed",
            summary=f"Check “{check.name}” changed: "
            + ", ".join(name.replace("_", " ") for name in changed),
            before={n: before[n] for n in changed},
            after={n: after[n] for n in changed},
            data={"check": check.pk},
        )
        if reading:
            check.last_value = ""
            check.last_detail = "The check changed; its evidence is collected again."
            check.last_url = ""
            check.observed_sha = ""
            check.consecutive_errors = 0
            if check.status != CheckStatus.PENDING:
                write_status(
                    check,
                    release,
                    status=CheckStatus.PENDING,
                    value="",
                    detail=check.last_detail,
                    source="edit",
                    by=by,
                    now=now,
                    event=event,
                )
        check.save()
    return check


def _plain(value: Any) -> Any:
    return value.pk if isinstance(value, Integration) else value


def delete_release_check(check: Check, *, by: Any) -> None:
    release = check.release
    if release is None:
        raise Refused("That check is a project template.")
    _require_check_editor(by, release)
    with transaction.atomic():
        release = lock_release(release)
        log_event(
            release,
            actor=by,
            verb="check_removed",
            summary=f"Check “{check.name}” removed (it was {check.get_status_display().lower()})",
            before={"status": check.status, "required": check.required},
            data={"check": check.pk},
        )
        check.delete()


# --- the lifecycle ------------------------------------------------------------------------------


def copy_check_templates(release: Release) -> list[Check]:
    templates = Check.objects.filter(project=release.project, release__isnull=True).select_related(
        "integration"
    )
    now = timezone.now()
    checks = []
    for template in templates:
        check = Check(release=release, **{name: getattr(template, name) for name in CHECK_FIELDS})
        _restart(check, release, now)
        checks.append(check)
    return Check.objects.bulk_create(checks)


def restart_pre_release_checks(release: Release) -> int:
    """A new commit: results for the old one no longer count, and it is read at once (after
    its stabilisation delay) with the timeout counting from now."""
    return _restart_phase(release, CheckPhase.PRE_RELEASE)


def _restart_phase(release: Release, phase: str) -> int:
    now = timezone.now()
    checks = list(release.checks.filter(phase=phase).select_related("integration"))
    for check in checks:
        _restart(check, release, now)
    return Check.objects.bulk_update(checks, RESTART_FIELDS)


def on_release_status_changed(release: Release, *, new: str) -> None:
    """Post-release checks start when the release enters monitoring; each phase's checks stop
    being read when its phase is over."""
    if new == Status.MONITORING:
        _restart_phase(release, CheckPhase.POST_RELEASE)
    for phase, statuses in POLLED_STATUSES.items():
        if new not in statuses:
            release.checks.filter(phase=phase).update(next_poll_at=None, poll_claim=None)
