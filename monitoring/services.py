"""Operations on integrations and checks: configuring them, recording what was observed, judging.

Views, the API, webhooks and the poller's tasks all come through here. Every change to a
release's checks has the usual shape: guard → ``transaction.atomic()`` with the release row
locked → change → ``log_event`` → side effects on commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from lib import outbound
from lib.errors import NotAllowed, Refused
from lib.links import has_userinfo
from monitoring import circuit, signals, timing
from monitoring.crypto import SecretsUnreadable, encrypt_secrets
from monitoring.integrations.base import (
    CheckSpec,
    Evidence,
    FieldSpec,
    IntegrationError,
    Observation,
    observe_group,
)
from monitoring.integrations.http import HttpClient
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import (
    WEBHOOK_KINDS,
    Check,
    CheckPhase,
    CheckResult,
    CheckStatus,
    CircuitState,
    Comparator,
    Integration,
    IntegrationKind,
    is_http_url,
)
from releases import access as rules
from releases.access import access_for
from releases.events import Actor, log_event, log_project_change
from releases.models import Project, ProjectEventKind, Release, Status
from releases.services.common import lock_release, reject_unknown_fields

logger = logging.getLogger(__name__)

# Release statuses in which each phase's checks are read.
POLLED_STATUSES = {
    CheckPhase.PRE_RELEASE: (Status.PLANNING, Status.FROZEN, Status.APPROVED),
    CheckPhase.POST_RELEASE: (Status.MONITORING,),
}
WEBHOOK_SECRET = "webhook_secret"
# Reading a provider more often than this buys nothing and spends its rate limit.
MIN_INTERVAL_SECONDS = 10


# --- what each kind asks for --------------------------------------------------------------------


def base_url_field(kind: str) -> FieldSpec | None:
    adapter = ADAPTERS.get(kind)
    return adapter.base_url_field if adapter else None


def config_fields(kind: str) -> tuple[FieldSpec, ...]:
    adapter = ADAPTERS.get(kind)
    return adapter.config_fields if adapter else ()


def secret_fields(kind: str) -> tuple[FieldSpec, ...]:
    """The adapter's credentials, plus the webhook secret for kinds that push to us."""
    adapter = ADAPTERS.get(kind)
    fields = adapter.secret_fields if adapter else ()
    if kind in WEBHOOK_KINDS:
        fields = (
            *fields,
            FieldSpec(
                WEBHOOK_SECRET,
                "Webhook secret",
                required=False,
                secret=True,
                help="The secret set on the provider's webhook; deliveries without it are "
                "rejected.",
            ),
        )
    return fields


def param_fields(kind: str) -> tuple[FieldSpec, ...]:
    adapter = ADAPTERS.get(kind)
    return adapter.param_fields if adapter else ()


# --- integrations -------------------------------------------------------------------------------


def _require_manager(by: Any, project: Project) -> None:
    rules.CONFIGURE_MONITORING.check(by, project)


def _clean_strings(values: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """Names to stripped text; numbers become text, other shapes are kept to be refused."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError({what: "Expected an object of names and values."})
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            value = ""
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        cleaned[str(key)] = value.strip() if isinstance(value, str) else value
    return cleaned


def _unknown(names: Iterable[str], fields: Sequence[FieldSpec]) -> list[str]:
    known = {f.name for f in fields}
    return sorted(set(names) - known)


MOVED_CREDENTIAL = (
    "The address changed: enter this credential again (or clear it); a stored one is not sent "
    "to a new address."
)


def _origin(kind: str, base_url: str) -> tuple[str, str, int] | str:
    """Where an integration's credentials go: its base URL's origin, or its kind's default."""
    adapter = ADAPTERS.get(kind)
    url = base_url or (adapter.default_base_url if adapter else "")
    try:
        return outbound.origin(url) if url else ""
    except outbound.InvalidURL:
        return url


def save_integration(
    project: Project,
    *,
    by: Any,
    integration: Integration | None = None,
    name: str,
    kind: str,
    base_url: str = "",
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    clear_secrets: Iterable[str] = (),
    enabled: bool | None = None,
) -> Integration:
    """Create an integration, or change one.

    Credentials are write-only: ``secrets`` holds the ones to set, an empty or missing value keeps
    the stored one, and ``clear_secrets`` names the ones to remove. They are stored encrypted and
    never returned. ``enabled`` None keeps the current setting (a new integration is enabled).
    Field errors come as a ``ValidationError`` whose keys are ``name``, ``kind``, ``base_url``,
    ``config.<field>`` and ``secrets.<field>``.
    """
    _require_manager(by, project)
    if integration is not None and integration.project_id != project.pk:
        raise NotAllowed("That integration belongs to another project.")
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the integration a name."
    elif (
        Integration.objects.filter(project=project, name=name)
        .exclude(pk=integration.pk if integration else None)
        .exists()
    ):
        errors["name"] = "Another integration of this project has this name."
    if kind not in IntegrationKind.values:
        errors["kind"] = f"Unknown kind {kind!r}."
    elif integration is not None and kind != integration.kind and integration.checks.exists():
        errors["kind"] = "Checks read this integration; its kind cannot change."

    base_url = (base_url or "").strip()
    url_field = base_url_field(kind)
    if base_url:
        if not is_http_url(base_url):
            errors["base_url"] = "Enter an http:// or https:// address."
        elif has_userinfo(base_url):
            # Refused before it is stored: the URL is shown on pages, in the API and in the
            # project log, where a credential inside it would be read by every member.
            errors["base_url"] = outbound.CREDENTIALS_IN_URL
        if url_field is None and "base_url" not in errors and kind in IntegrationKind.values:
            errors["base_url"] = "This kind of integration has no base URL."
    elif url_field is not None and url_field.required:
        errors["base_url"] = f"{url_field.label} is required."

    config = _clean_strings(config, "config")
    fields = config_fields(kind)
    for unknown in _unknown(config, fields):
        errors[f"config.{unknown}"] = "Not a setting of this kind of integration."
    for field in fields:
        value = config.get(field.name, "")
        if not isinstance(value, str):
            errors[f"config.{field.name}"] = "Enter text."
        elif field.required and not value:
            errors[f"config.{field.name}"] = f"{field.label} is required."
    config = {k: v for k, v in config.items() if v}

    given = _clean_strings(secrets, "secrets")
    fields = secret_fields(kind)
    for unknown in _unknown([*given, *clear_secrets], fields):
        errors[f"secrets.{unknown}"] = "Not a credential of this kind of integration."
    stored: dict[str, str] = {}
    if integration is not None and integration.secrets_encrypted and kind == integration.kind:
        try:
            stored = integration.secrets()
        except SecretsUnreadable:
            stored = {}  # Unreadable under today's keys: the form asks for them again.
    merged = {k: v for k, v in stored.items() if k not in set(clear_secrets)}
    for key, value in given.items():
        if not isinstance(value, str):
            errors[f"secrets.{key}"] = "Enter text."
        elif value:
            merged[key] = value
    for field in fields:
        if field.required and not merged.get(field.name):
            errors[f"secrets.{field.name}"] = f"{field.label} is required."
    old_url = integration.base_url if integration else ""
    if stored and _origin(kind, base_url) != _origin(kind, old_url):
        # Credentials are write-only: moving the integration to another address must not send
        # the stored ones there, or whoever may edit it could collect them.
        for key in sorted(merged):
            if key in stored and key != WEBHOOK_SECRET and not given.get(key):
                errors[f"secrets.{key}"] = MOVED_CREDENTIAL
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if integration is None:
            integration = Integration(project=project)
            changed_connection = False
            was_enabled = False
        else:
            integration = Integration.objects.select_for_update().get(pk=integration.pk)
            was_enabled = integration.enabled
            changed_connection = (
                integration.kind != kind
                or integration.base_url != base_url
                or integration.config != config
                or merged != stored
            )
        integration.name = name
        integration.kind = kind
        integration.base_url = base_url
        integration.config = config
        if enabled is not None:
            integration.enabled = enabled
        if merged != stored or not integration.pk:
            integration.secrets_encrypted = encrypt_secrets(merged)
        if changed_connection:
            # New settings deserve a fresh start: forget the failures of the old ones and read
            # every active check again now.
            integration.consecutive_failures = 0
            integration.circuit_state = CircuitState.CLOSED
            integration.circuit_opened_at = None
            integration.backoff_until = None
        log_project_change(project, actor=by, kind=ProjectEventKind.INTEGRATION, row=integration)
        try:
            with transaction.atomic():
                integration.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"name": "Another integration of this project has this name."}
            ) from exc
        if changed_connection:
            Check.objects.filter(integration=integration, next_poll_at__isnull=False).update(
                next_poll_at=timezone.now(), etag="", poll_claim=None
            )
    if was_enabled and not integration.enabled:
        _no_longer_read(integration, by=by)
    logger.info("Integration %s (%s) saved by %s", integration.pk, kind, by)
    return integration


def _no_longer_read(integration: Integration, *, by: Any) -> None:
    """A disabled integration's checks stop being read: their last result is no evidence any
    more, so they show an error (never a pass) until the integration is enabled again."""
    active = Check.objects.filter(
        integration=integration, release__isnull=False, next_poll_at__isnull=False
    ).exclude(status=CheckStatus.ERROR)
    for check in active:
        record_check_result(
            check,
            status=CheckStatus.ERROR,
            value="integration disabled",
            detail=f"“{integration.name}” is disabled: nothing reads this check.",
            source="system",
            by=by,
        )


def delete_integration(integration: Integration, *, by: Any) -> None:
    """Remove an integration and its check templates. One that releases' checks read stays:
    deleting it would delete their history, so it can only be disabled."""
    _require_manager(by, integration.project)
    releases = (
        Check.objects.filter(integration=integration, release__isnull=False)
        .values("release")
        .distinct()
        .count()
    )
    if releases:
        raise Refused(
            f"“{integration.name}” is read by checks on {releases} release"
            f"{'s' if releases != 1 else ''}; disable it instead so their history stays."
        )
    with transaction.atomic():
        log_project_change(
            integration.project,
            actor=by,
            kind=ProjectEventKind.INTEGRATION,
            row=integration,
            removed=True,
            data={"check_templates": [c.name for c in integration.checks.filter(release=None)]},
        )
        integration.delete()
    logger.info("Integration %s deleted by %s", integration.name, by)


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    summary: str
    detail: str = ""
    url: str = ""


def spec_for(check: Check, release: Release | None = None) -> CheckSpec:
    """The check as an adapter sees it, for ``release`` (the check's own by default)."""
    release = release or check.release
    return CheckSpec(
        params=dict(check.params or {}),
        comparator=check.comparator or None,
        threshold=check.threshold,
        ref=release.git_ref if release else "",
        sha=release.commit_sha if release else "",
        version=release.version if release else "",
        environment=release.environment if release else "",
    )


def _sample_check(integration: Integration) -> tuple[Check, Release | None] | None:
    """A check that reads the integration, to try it the way the poller will."""
    check = (
        Check.objects.filter(integration=integration, release__isnull=False)
        .select_related("release")
        .order_by("-release__created_at", "pk")
        .first()
    )
    if check is not None:
        return check, check.release
    template = Check.objects.filter(integration=integration, release__isnull=True).first()
    if template is not None:
        latest = integration.project.releases.order_by("-created_at").first()
        return template, latest
    return None


def test_connection(
    integration: Integration,
    *,
    by: Any,
    client: HttpClient | None = None,  # noqa: PT028 - a service, not a test
) -> ConnectionTest:
    """Call the provider once and say what came back; the integration's health records it."""
    _require_manager(by, integration.project)
    if not integration.is_polled:
        return ConnectionTest(
            ok=True,
            summary="Nothing to call",
            detail="Pushed results arrive through the API or a webhook; nothing is polled.",
        )
    now = timezone.now()
    adapter = ADAPTERS[integration.kind]
    try:
        conn = integration.connection()
    except SecretsUnreadable as exc:
        return ConnectionTest(ok=False, summary="credentials unreadable", detail=str(exc))

    owns_client = client is None
    client = client or HttpClient()
    try:
        sample = _sample_check(integration)
        if sample is not None:
            check, release = sample
            observation = observe_group(adapter, conn, [spec_for(check, release)], client)[0]
            ok = observation.status != CheckStatus.ERROR
            result = ConnectionTest(
                ok=ok,
                summary=f"{check.name}: {observation.value or observation.status}",
                detail=observation.detail,
                url=observation.url,
            )
            counts = observation.value != "misconfigured"
        else:
            try:
                url = conn.url(adapter.default_base_url)
                response = client.get(url, what=url, check_status=False)
            except IntegrationError as exc:
                return _health_of_test(
                    integration, ConnectionTest(False, exc.label, exc.message), now, counts=True
                )
            result = ConnectionTest(
                ok=response.status_code < 500,
                summary=f"reached (HTTP {response.status_code})",
                detail=f"{url} answered. Add a check to try the credentials and what it reads.",
                url=url,
            )
            counts = True
    finally:
        if owns_client:
            client.close()
    return _health_of_test(integration, result, now, counts=counts)


# Not a test for pytest to collect when a test module imports it by name.
test_connection.__test__ = False  # type: ignore[attr-defined]


def _health_of_test(
    integration: Integration, result: ConnectionTest, now: dt.datetime, *, counts: bool
) -> ConnectionTest:
    if result.ok:
        circuit.record_success(integration, now=now)
    elif counts:
        circuit.record_failure(integration, now=now, error=result.detail or result.summary)
    return result


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
            for unknown in _unknown(params, fields):
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
    _require_manager(by, project)
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
    _require_manager(by, check.project)
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
                _write_status(
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
    if check.release_id is None:
        raise Refused("That check is a project template.")
    _require_check_editor(by, check.release)
    with transaction.atomic():
        release = lock_release(check.release)
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


# --- recording results --------------------------------------------------------------------------


def _write_status(
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


def _apply(
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
        _write_status(
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
    if check.release_id is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(check.release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        now = timezone.now()
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(
            status=status, value=value, numeric=numeric, detail=detail, url=url
        )
        _apply(check, release, observation, sha=sha, source=source, by=by, now=now)
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
    if check.release_id is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(check.release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        if not evidence.is_newer_than(Evidence.from_json(check.evidence)):
            return False
        now = timezone.now()
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(status=status, value=value, detail=detail, url=url)
        _apply(check, release, observation, sha=sha, source="webhook", by=by, now=now)
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
    if check.release_id is None:
        raise Refused("This check is a project template; results belong to a release's checks.")
    with transaction.atomic():
        release = lock_release(check.release)
        check = Check.objects.select_for_update().get(pk=check.pk)
        now = timezone.now()
        known = Evidence.from_json(check.evidence)
        if evidence is not None and evidence.is_newer_than(known):
            known = evidence
        detail = f"Re-run requested by {requested_by or 'someone'} at {now:%Y-%m-%d %H:%M} UTC."
        sha = sha or (release.commit_sha if check.phase == CheckPhase.PRE_RELEASE else "")
        observation = Observation(
            status=CheckStatus.PENDING, value="re-run", detail=detail, url=url
        )
        # Not ordered like results: a re-run request only ever takes the pass away, and the
        # result of the re-run decides.
        changed = _apply(check, release, observation, sha=sha, source="webhook", by=by, now=now)
        check.evidence = {
            **(known.as_json() if known else {}),
            "rerun": {"detail": detail, "after": known.as_json() if known else None},
        }
        check.etag = ""
        check.save(update_fields=[*STATE_FIELDS, "etag", "evidence"])
    return changed


def _rerun_outstanding(check: Check, observation: Observation | None) -> Observation | None:
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
        status=CheckStatus.PENDING,
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
    if check.release_id is None:
        raise Refused("This check is a project template.")
    rules.JUDGE_CHECKS.check(access_for(by, check.release))
    if not check.release.is_active:
        raise Refused(
            f"The release is {check.release.get_status_display().lower()}; its checks are closed."
        )
    with transaction.atomic():
        release = lock_release(check.release)
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
        _write_status(
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
            read = _rerun_outstanding(check, observation)
            _apply(check, release, read, sha=sha, source="poll", by=actor, now=now)
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
