"""The release page's feature-flag section: ``{% release_flags page as panel %}``
(``templates/monitoring/_flags.html`` loads it).

It reuses what the page has loaded (the release with its scope items, its checks, its rollback
triggers, the person's access): the section costs one query for the flags, one for their
switches when there are flags, and one for the integrations when the person may name a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import template

from monitoring.integrations.flagstate import FlagState
from monitoring.models import FLAG_KINDS, CheckPhase, FlagSwitch, Integration, TriggerMode
from monitoring.services import flags
from releases import access as rules
from releases.models import ScopeItem

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


def _latest_switches(bound: list[Any]) -> dict[int, Any]:
    latest: dict[int, Any] = {}
    if bound:
        switches = FlagSwitch.objects.filter(flag__in=bound).order_by("created_at", "pk")
        for switch in switches:
            latest[switch.flag_id] = switch
    return latest


@register.simple_tag
def release_flags(page: Any) -> FlagPanel:
    release, access = page.release, page.access
    bound = flags.flags_of(release)
    environments: list[str] = []
    for flag in bound:
        for env in flag.states or {}:
            if env not in environments:
                environments.append(env)
    latest = _latest_switches(bound)
    recommended = {
        trigger.flag_id
        for trigger in page.rollback_triggers
        if trigger.flag_id
        and trigger.mode == TriggerMode.RECOMMEND
        and trigger.fired_at is not None
        and (trigger.flag_id not in latest or latest[trigger.flag_id].created_at < trigger.fired_at)
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
    can_name = active and rules.NAME_FLAGS.allows(access)
    return FlagPanel(
        rows=rows,
        environments=environments,
        scope_items=[
            item for item in release.scope_items.all() if item.state == ScopeItem.State.INCLUDED
        ],
        integrations=list(
            Integration.objects.filter(project_id=release.project_id, kind__in=FLAG_KINDS)
        )
        if can_name
        else [],
        checks=[c for c in page.checks if c.phase == CheckPhase.POST_RELEASE],
        can_name=can_name,
        can_switch=active and rules.SWITCH_FLAGS.allows(access),
        can_bind_triggers=active and rules.EDIT_ROLLBACK_PLAN.allows(access),
        modes=list(TriggerMode.choices),
    )
