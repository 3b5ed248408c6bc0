"""The release page's feature-flag section: ``{% release_flags release user as panel %}``
(``templates/monitoring/_flags.html`` loads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import template

from monitoring import flags
from monitoring.integrations.flagstate import FlagState
from monitoring.models import FLAG_KINDS, Check, CheckPhase, FlagSwitch, Integration, TriggerMode
from releases import permissions as rules
from releases.models import Release, ScopeItem
from releases.permissions import access_for

register = template.Library()


@dataclass
class FlagRow:
    flag: Any
    states: list[tuple[str, FlagState | None]]
    switch: Any = None
    recommended: bool = False


@dataclass
class FlagPanel:
    rows: list[FlagRow] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    scope_items: list[Any] = field(default_factory=list)
    integrations: list[Any] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)
    can_name: bool = False
    can_switch: bool = False
    can_bind_triggers: bool = False
    modes: list[tuple[str, str]] = field(default_factory=list)


@register.simple_tag
def release_flags(release: Release, user: Any) -> FlagPanel:
    access = access_for(user, release)
    bound = flags.flags_of(release)
    environments: list[str] = []
    for flag in bound:
        for env in flag.states or {}:
            if env not in environments:
                environments.append(env)
    latest: dict[int, Any] = {}
    for switch in FlagSwitch.objects.filter(release=release).order_by("created_at", "pk"):
        latest[switch.flag_id] = switch
    recommended = {
        trigger.flag_id
        for trigger in release.rollback_triggers.filter(
            flag__isnull=False, mode=TriggerMode.RECOMMEND, fired_at__isnull=False
        )
        if trigger.flag_id not in latest or latest[trigger.flag_id].created_at < trigger.fired_at
    }
    rows = []
    for flag in bound:
        states = flags.states_of(flag)
        rows.append(
            FlagRow(
                flag=flag,
                states=[(env, states.get(env)) for env in environments],
                switch=latest.get(flag.pk),
                recommended=flag.pk in recommended,
            )
        )
    active = release.is_active
    return FlagPanel(
        rows=rows,
        environments=environments,
        scope_items=list(release.scope_items.filter(state=ScopeItem.State.INCLUDED)),
        integrations=list(
            Integration.objects.filter(project_id=release.project_id, kind__in=FLAG_KINDS)
        ),
        checks=list(Check.objects.filter(release=release, phase=CheckPhase.POST_RELEASE)),
        can_name=active and rules.NAME_FLAGS.allows(access),
        can_switch=active and rules.SWITCH_FLAGS.allows(access),
        can_bind_triggers=active and rules.EDIT_ROLLBACK_PLAN.allows(access),
        modes=list(TriggerMode.choices),
    )
