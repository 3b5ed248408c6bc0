"""Feature flags of a release's scope: which flag a scope item ships behind, what state it is
in per environment, and switching one flag off to roll back one feature without a redeploy.

- ``bind_flag`` / ``unbind_flag``: a scope item names its flag in a flag integration
  (LaunchDarkly project, Split workspace; the environments are the integration's).
- ``read_flag_states``: reads every flag of a release from its provider (on the page's "read
  now" and by beat while the release is active) and keeps the state per environment to show.
- ``add_flag_trigger``: a rollback trigger whose action is "switch flag X off" instead of a
  rollback. When its check breaches (``monitoring.health``), ``act_on_flag_trigger`` either
  recommends switching it off (the decider is told; one click on the release page) or, in
  automatic mode, asks for it at once: a ``FlagSwitch`` row written in the breach's
  transaction, carried out after commit by a task (``deliver_switch``) through the adapter.
- The health window watches the result: the release stays in monitoring, unhealthy, until the
  trigger's check passes again; then ``recover_after_switch`` marks it healthy (when nothing
  else that decides is failing). A switch that fails is recorded, and the rollback is
  recommended to a person instead — nothing is assumed switched off.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from monitoring import tasks
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations.base import ConfigError, IntegrationError
from monitoring.integrations.flagstate import FlagAdapter, FlagState
from monitoring.integrations.http import HttpClient
from monitoring.integrations.registry import ADAPTERS
from monitoring.models import (
    FLAG_KINDS,
    Check,
    CheckPhase,
    CheckStatus,
    FeatureFlag,
    FlagSwitch,
    Integration,
    RollbackTrigger,
    TriggerMode,
)
from releases import access as rules
from releases.access import access_for, is_person
from releases.events import Actor, log_event
from releases.models import Health, Release, RollbackPlan, ScopeItem, Status
from releases.notifications import notify
from releases.services.common import lock_release, release_managers
from releases.services.lifecycle import mark_health
from releases.services.rollback import recommend_rollback

logger = logging.getLogger(__name__)

ACTOR = "Greenlight"
MAX_ATTEMPTS = 4
MAX_RETRY_SECONDS = 60
# Longer than the switch task may run: a claim older than this belongs to a worker that is gone.
SEND_LEASE = dt.timedelta(seconds=90)
WATCHED_STATUSES = (Status.DEPLOYING, Status.MONITORING)
State = FlagSwitch.State


def flag_adapter(integration: Integration) -> FlagAdapter:
    adapter = ADAPTERS.get(integration.kind)
    if not isinstance(adapter, FlagAdapter):
        raise ConfigError(f"{integration.name} does not read feature flags.")
    return adapter


def flags_of(release: Release) -> list[FeatureFlag]:
    return list(
        FeatureFlag.objects.filter(scope_item__release=release)
        .select_related("scope_item", "integration")
        .order_by("scope_item__key", "scope_item__title", "key", "pk")
    )


def states_of(flag: FeatureFlag) -> dict[str, FlagState]:
    return {env: FlagState.from_json(raw) for env, raw in (flag.states or {}).items()}


def _is_person(actor: Actor) -> bool:
    return not isinstance(actor, str) and actor is not None and is_person(actor)


def _require_active(release: Release, what: str) -> None:
    if not release.is_active:
        raise Refused(
            f"The release is {release.get_status_display().lower()}; its {what} no longer change."
        )


# --- naming a scope item's flag -----------------------------------------------------------------


def bind_flag(scope_item: ScopeItem, *, by: Any, integration: Any, key: str) -> FeatureFlag:
    release = scope_item.release
    rules.NAME_FLAGS.check(access_for(by, release))
    key = (key or "").strip()
    errors: dict[str, str] = {}
    if (
        not isinstance(integration, Integration)
        or integration.project_id != release.project_id
        or integration.kind not in FLAG_KINDS
    ):
        errors["integration"] = "Choose one of this project's feature-flag integrations."
    if not key:
        errors["key"] = "Give the flag's key."
    elif len(key) > FeatureFlag._meta.get_field("key").max_length:
        errors["key"] = "Use at most 200 characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = lock_release(release)
        _require_active(release, "feature flags")
        try:
            with transaction.atomic():
                flag = FeatureFlag.objects.create(
                    scope_item=scope_item,
                    integration=integration,
                    key=key,
                    created_by=by if _is_person(by) else None,
                )
        except IntegrityError as exc:
            raise ValidationError({"key": "This scope item already names this flag."}) from exc
        log_event(
            release,
            actor=by,
            verb="flag_named",
            summary=f"Feature flag {key} ({integration.name}) named for {_item(scope_item)}",
            after={"flag": key, "integration": integration.name},
            data={"flag": flag.pk, "scope_item": scope_item.pk},
        )
    return flag


def unbind_flag(flag: FeatureFlag, *, by: Any) -> None:
    release = flag.scope_item.release
    rules.NAME_FLAGS.check(access_for(by, release))
    with transaction.atomic():
        release = lock_release(release)
        _require_active(release, "feature flags")
        if RollbackTrigger.objects.filter(flag=flag).exists():
            raise Refused(f"A rollback trigger switches {flag.key} off: remove that trigger first.")
        log_event(
            release,
            actor=by,
            verb="flag_unnamed",
            summary=f"Feature flag {flag.key} no longer named for {_item(flag.scope_item)}",
            before={"flag": flag.key, "integration": flag.integration.name},
            data={"flag": flag.pk, "scope_item": flag.scope_item_id},
        )
        flag.delete()


def _item(item: ScopeItem) -> str:
    return f"{item.key} {item.title}".strip() if item.key else item.title


# --- reading their state ------------------------------------------------------------------------


def read_flag_states(release: Release, *, client: HttpClient | None = None) -> int:
    """Read every flag of the release from its provider and keep what it said; each
    (integration, key) is read once. Returns how many flags were read without error."""
    flags = flags_of(release)
    read = 0
    owns = client is None
    client = client or HttpClient()
    answers: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}
    try:
        for flag in flags:
            wanted = (flag.integration_id, flag.key)
            if wanted not in answers:
                answers[wanted] = _read_one(flag, client)
            states, error = answers[wanted]
            FeatureFlag.objects.filter(pk=flag.pk).update(
                states=states if not error else flag.states,
                read_at=timezone.now(),
                read_error=error[:500],
            )
            read += not error
    finally:
        if owns:
            client.close()
    return read


def _read_one(flag: FeatureFlag, client: HttpClient) -> tuple[dict[str, Any], str]:
    try:
        adapter = flag_adapter(flag.integration)
        fetched = adapter.read(flag.integration.connection(), flag.key, client)
    except SecretsUnreadable:
        return {}, "The integration's credentials cannot be read; enter them again."
    except IntegrationError as exc:
        return {}, exc.message
    return {env: state.as_json() for env, state in fetched.payload["states"].items()}, ""


def request_flag_read(release: Release, *, by: Any) -> None:
    """The page's "read now": the flags are read by a worker within seconds."""
    if not access_for(by, release).can_view:
        raise NotAllowed("Only the people on the release read its flags.")
    transaction.on_commit(partial(tasks.read_release_flags.delay, release.pk), robust=True)


def releases_to_read() -> list[int]:
    """Active releases with flags: beat reads them every minute."""
    return list(
        Release.objects.filter(
            status__in=(*WATCHED_STATUSES, Status.PLANNING, Status.FROZEN, Status.APPROVED),
            scope_items__feature_flags__isnull=False,
        )
        .distinct()
        .values_list("pk", flat=True)
    )


# --- triggers whose action is a flag ------------------------------------------------------------


def add_flag_trigger(
    release: Release, *, by: Any, check: Any, flag: Any, mode: str, description: str = ""
) -> RollbackTrigger:
    """A rollback trigger on one of the release's post-release checks whose action is to switch
    ``flag`` (one of the release's flags) off, recommended or at once."""
    rules.EDIT_ROLLBACK_PLAN.check(access_for(by, release))
    description = (description or "").strip()
    errors: dict[str, str] = {}
    if mode not in TriggerMode.values:
        errors["mode"] = "Choose recommend or automatic."
    if (
        not isinstance(check, Check)
        or check.release_id != release.pk
        or check.phase != CheckPhase.POST_RELEASE
    ):
        errors["check"] = "Choose a post-release check of this release."
    if not isinstance(flag, FeatureFlag) or flag.scope_item.release_id != release.pk:
        errors["flag"] = "Choose a feature flag of this release's scope."
    if len(description) > RollbackTrigger._meta.get_field("description").max_length:
        errors["description"] = "Use at most 200 characters."
    if errors:
        raise ValidationError(errors)
    description = description or f"{check.name} failing"[:200]
    with transaction.atomic():
        release = lock_release(release)
        _require_active(release, "rollback triggers")
        try:
            with transaction.atomic():
                trigger = RollbackTrigger.objects.create(
                    release=release,
                    check_ref=check,
                    flag=flag,
                    mode=mode,
                    description=description,
                    created_by=by if _is_person(by) else None,
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"check": "This check already has a trigger; change that one instead."}
            ) from exc
        action = f"switch flag {flag.key} off"
        log_event(
            release,
            actor=by,
            verb="rollback_trigger_added",
            summary=f"Rollback trigger added: {description} → {action} "
            f"({trigger.get_mode_display().lower()})",
            after={"mode": mode, "description": description, "check": check.name, "flag": flag.key},
            data={"trigger": trigger.pk, "check": check.pk, "flag": flag.pk},
        )
    return trigger


def act_on_flag_trigger(
    release: Release, *, trigger: RollbackTrigger, check: Check, actor: str, reason: str
) -> None:
    """A flag trigger's check breached (inside the breach's transaction, the release locked)."""
    flag = FeatureFlag.objects.select_related("integration", "scope_item").get(pk=trigger.flag_id)
    environment = flag_adapter(flag.integration).production(
        flag.integration.connection(with_secrets=False)
    )
    if trigger.mode == TriggerMode.RECOMMEND:
        log_event(
            release,
            actor=actor,
            verb="flag_off_recommended",
            summary=f"Switching feature flag {flag.key} off in {environment} is recommended: "
            f"{reason}",
            data={"flag": flag.pk, "trigger": trigger.pk, "environment": environment},
        )
        notify(
            _deciders(release),
            release=release,
            verb="flag_off_recommended",
            message=f"{release}: {reason}. Switching feature flag {flag.key} off in "
            f"{environment} is recommended; it is one click on the release page.",
            url=release.get_absolute_url() + "#sec-flags",
        )
        return
    _request_switch(
        release,
        flag,
        environment=environment,
        trigger=trigger,
        requested_by=actor,
        reason=reason,
    )


def _deciders(release: Release) -> list[Any]:
    people = {user.pk: user for user in release_managers(release)}
    plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
    if plan is not None and plan.decider is not None:
        people.setdefault(plan.decider.pk, plan.decider)
    return list(people.values())


# --- switching a flag off -----------------------------------------------------------------------


def turn_flag_off(flag: FeatureFlag, *, by: Any, reason: str) -> FlagSwitch:
    """A person switches a flag of the release off in the integration's production
    environment (the one-click answer to a recommendation, or their own call)."""
    release = flag.scope_item.release
    rules.SWITCH_FLAGS.check(access_for(by, release))
    reason = (reason or "").strip() or "switched off by hand"
    with transaction.atomic():
        release = lock_release(release)
        _require_active(release, "feature flags")
        environment = flag_adapter(flag.integration).production(
            flag.integration.connection(with_secrets=False)
        )
        return _request_switch(
            release,
            flag,
            environment=environment,
            trigger=None,
            requested_by=by.get_username() if _is_person(by) else str(by),
            reason=reason,
            by=by,
        )


def _request_switch(
    release: Release,
    flag: FeatureFlag,
    *,
    environment: str,
    trigger: RollbackTrigger | None,
    requested_by: str,
    reason: str,
    by: Actor = None,
) -> FlagSwitch:
    switch = FlagSwitch.objects.create(
        flag=flag,
        release=release,
        trigger=trigger,
        environment=environment,
        reason=reason[:500],
        requested_by=requested_by[:150],
    )
    log_event(
        release,
        actor=by or requested_by,
        verb="flag_switch_requested",
        summary=f"Switching feature flag {flag.key} off in {environment}: {reason}",
        data={"flag": flag.pk, "switch": switch.pk, "environment": environment},
    )
    transaction.on_commit(partial(tasks.switch_flag_off.delay, switch.pk), robust=True)
    return switch


@dataclass(frozen=True)
class Delivery:
    """What one run of the switch task did. ``retry_in``: run again after this many seconds."""

    outcome: str  # done | failed | retry | busy | gone
    retry_in: float | None = None
    detail: str = ""


def deliver_switch(
    switch_id: int, *, client: HttpClient | None = None, now: dt.datetime | None = None
) -> Delivery:
    """Call the provider once for a switch still to be made. Safe to run any number of times."""
    now = now or timezone.now()
    claim = uuid.uuid4()
    claimed = FlagSwitch.objects.filter(pk=switch_id, state=State.PENDING).update(
        state=State.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        switch = FlagSwitch.objects.filter(pk=switch_id).first()
        if switch is not None and switch.state == State.SENDING and switch.claimed_at:
            if now - switch.claimed_at < SEND_LEASE:
                wait = SEND_LEASE - (now - switch.claimed_at)
                return Delivery("busy", retry_in=wait.total_seconds() + 1)
            # Switching a flag off twice is harmless (every provider treats it as a no-op): the
            # switch of a worker that died is simply made again.
            FlagSwitch.objects.filter(pk=switch_id, state=State.SENDING, claim=switch.claim).update(
                state=State.PENDING, claim=None
            )
            return deliver_switch(switch_id, client=client, now=now)
        return Delivery("gone", detail=switch.state if switch else "no such switch")
    switch = FlagSwitch.objects.select_related("flag__integration", "release").get(pk=switch_id)
    flag = switch.flag
    owns = client is None
    client = client or HttpClient(connect_retries=0)
    try:
        adapter = flag_adapter(flag.integration)
        said = adapter.turn_off(
            flag.integration.connection(),
            flag.key,
            environment=switch.environment,
            comment=f"Greenlight, {switch.release}: {switch.reason}",
            client=client,
        )
    except SecretsUnreadable:
        return _failed(switch, claim, "the integration's credentials cannot be read", final=True)
    except IntegrationError as exc:
        final = exc.permanent or switch.attempts >= MAX_ATTEMPTS
        if final:
            return _failed(switch, claim, exc.message, final=True)
        wait = min(MAX_RETRY_SECONDS, max(2.0**switch.attempts, exc.retry_after or 0.0))
        FlagSwitch.objects.filter(pk=switch.pk, state=State.SENDING, claim=claim).update(
            state=State.PENDING, claim=None, outcome=exc.message[:500]
        )
        logger.warning(
            "Switching flag %s off failed (attempt %s): %s", flag.pk, switch.attempts, exc
        )
        return Delivery("retry", retry_in=wait, detail=exc.message)
    finally:
        if owns:
            client.close()
    with transaction.atomic():
        release = lock_release(switch.release)
        done = FlagSwitch.objects.filter(pk=switch.pk, state=State.SENDING, claim=claim).update(
            state=State.DONE, claim=None, outcome=said[:500], done_at=timezone.now()
        )
        if not done:
            return Delivery("gone")
        states = dict(flag.states or {})
        states[switch.environment] = FlagState(
            exists=True, on=False, detail="switched off"
        ).as_json()
        FeatureFlag.objects.filter(pk=flag.pk).update(states=states, read_at=timezone.now())
        log_event(
            release,
            actor=ACTOR,
            verb="flag_switched_off",
            summary=f"Feature flag {flag.key} switched off in {switch.environment}: {said}",
            data={"flag": flag.pk, "switch": switch.pk, "environment": switch.environment},
        )
        watching = ""
        if switch.trigger_id:
            trigger = RollbackTrigger.objects.select_related("check_ref").get(pk=switch.trigger_id)
            watching = f" Greenlight keeps watching “{trigger.check_ref.name}”."
        notify(
            _deciders(release),
            release=release,
            verb="flag_switched_off",
            message=f"{release}: feature flag {flag.key} was switched off in "
            f"{switch.environment} ({switch.reason}).{watching}",
            url=release.get_absolute_url() + "#sec-flags",
        )
    return Delivery("done", detail=said)


def _failed(switch: FlagSwitch, claim: uuid.UUID, why: str, *, final: bool) -> Delivery:
    """Nothing is assumed switched off: recorded, people told, and a trigger's rollback is
    recommended instead."""
    with transaction.atomic():
        release = lock_release(switch.release)
        done = FlagSwitch.objects.filter(pk=switch.pk, state=State.SENDING, claim=claim).update(
            state=State.FAILED, claim=None, outcome=why[:500], done_at=timezone.now()
        )
        if not done:
            return Delivery("gone")
        key = switch.flag.key
        log_event(
            release,
            actor=ACTOR,
            verb="flag_switch_failed",
            summary=f"Feature flag {key} could not be switched off in {switch.environment}: {why}",
            data={"flag": switch.flag_id, "switch": switch.pk, "attempts": switch.attempts},
        )
        notify(
            _deciders(release),
            release=release,
            verb="flag_switch_failed",
            message=f"{release}: feature flag {key} could not be switched off in "
            f"{switch.environment} ({why}). Switch it off by hand or roll the release back.",
            url=release.get_absolute_url(),
        )
        if switch.trigger_id and release.status in WATCHED_STATUSES:
            recommend_rollback(
                release,
                by=ACTOR,
                reason=f"{switch.reason}; feature flag {key} could not be switched off",
            )
    return Delivery("failed", detail=why)


# --- the health window watching the result ------------------------------------------------------


def recover_after_switch(*, check: Check, release: Release, new: str) -> None:
    """A trigger's check passes again after its flag was switched off (inside the transaction
    that recorded the pass, the release locked): the release is healthy again, unless another
    check that decides is still failing."""
    if (
        new != CheckStatus.PASSING
        or check.phase != CheckPhase.POST_RELEASE
        or release.status not in WATCHED_STATUSES
        or release.health != Health.UNHEALTHY
    ):
        return
    trigger = RollbackTrigger.objects.filter(check_ref=check, flag__isnull=False).first()
    if trigger is None or trigger.fired_at is None:
        return
    switch = (
        FlagSwitch.objects.filter(
            trigger=trigger, state=State.DONE, created_at__gte=trigger.fired_at
        )
        .select_related("flag")
        .first()
    )
    if switch is None:
        return
    still_failing = (
        release.checks.filter(phase=CheckPhase.POST_RELEASE, status=CheckStatus.FAILING)
        .filter(Q(required=True) | Q(rollback_triggers__isnull=False))
        .exclude(pk=check.pk)
        .exists()
    )
    if still_failing:
        return
    mark_health(
        release,
        Health.HEALTHY,
        by=ACTOR,
        reason=f"“{check.name}” passes again ({check.last_value}) since feature flag "
        f"{switch.flag.key} was switched off",
    )
