"""Integrations: what each kind asks for, saving and deleting them, trying a connection."""

from __future__ import annotations

import datetime as dt
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
from monitoring import circuit
from monitoring.crypto import SecretsUnreadable, encrypt_secrets
from monitoring.integrations.base import CheckSpec, FieldSpec, IntegrationError, observe_group
from monitoring.integrations.http import HttpClient
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import (
    WEBHOOK_KINDS,
    Check,
    CheckStatus,
    CircuitState,
    Integration,
    IntegrationKind,
    is_http_url,
)
from monitoring.services.results import record_check_result
from releases import access as rules
from releases.events import log_project_change
from releases.models import Project, ProjectEventKind, Release

logger = logging.getLogger(__name__)
WEBHOOK_SECRET = "webhook_secret"


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


def unknown_fields(names: Iterable[str], fields: Sequence[FieldSpec]) -> list[str]:
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
        .exclude(pk__in=[integration.pk] if integration else [])
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
    for unknown in unknown_fields(config, fields):
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
    for unknown in unknown_fields([*given, *clear_secrets], fields):
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
