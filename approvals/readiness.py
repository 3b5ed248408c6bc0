"""Is the release ready? Computed here and nowhere else.

The dashboard, the release page, the API and the go decision all call ``compute_readiness``.
It reads sign-offs and checks, so it lives in ``approvals``, the layer above both; the deploy
start (``approvals.services.deploy``) recomputes it under the release row lock.

Ready means (DESIGN.md): every required readiness checklist item ticked; every required
pre-release check passing on this commit (pending, error, needs judgement or a result from
another commit is *not* passing — fail closed); the rollback plan complete; no open
blocker-level risk; every required role's quorum of fresh Go sign-offs and no No-go; no scope
change waiting for a decision.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from approvals.models import DEFAULT_REQUIRED_ROLES, ApprovalPolicy, Overridable, SignOff
from lib.wording import plural
from monitoring.models import Check, CheckPhase
from monitoring.scope_checks import SCOPE_PREFETCHES, scope_problems
from releases.models import (
    Phase,
    Release,
    Role,
    ScopeChangeRequest,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class ReadinessData(TypedDict):
        pre_release_checks: list[Check]
        current_sign_offs: list[SignOff]
        pending_change_requests: list[ScopeChangeRequest]

    # A release loaded with ``with_readiness_data``.
    LoadedRelease = WithAnnotations[Release, ReadinessData]


ROLE_LABELS = dict(Role.choices)


@dataclass(frozen=True)
class Blocker:
    kind: str  # checklist | check | rollback_plan | risk | sign_off | change_request
    message: str
    section: str  # the release page section that resolves it
    no_go: bool = False  # a standing No-go, overridden (if ever) under its own policy setting

    @property
    def override_category(self) -> str:
        """Which setting of the approval policy says who may override this blocker."""
        if self.kind == "sign_off":
            return Overridable.NO_GO if self.no_go else Overridable.SIGN_OFFS
        if self.kind == "check":
            return Overridable.CHECKS
        if self.kind in ("freeze", "deploy_window"):
            return self.kind
        return Overridable.READINESS

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "message": self.message,
            "section": self.section,
            "override": str(self.override_category),
        }


@dataclass(frozen=True)
class RoleSignOffs:
    """Where one required role stands: its go's against the quorum."""

    role: str
    quorum: int
    go: list[SignOff]
    no_go: list[SignOff]
    stale: list[SignOff]

    @property
    def label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def state(self) -> str:
        """go / no_go / stale / waiting — the chip shown on the dashboard."""
        if self.no_go:
            return "no_go"
        if len(self.go) >= self.quorum:
            return "go"
        if self.stale:
            return "stale"
        return "waiting"


@dataclass
class Readiness:
    blockers: list[Blocker] = field(default_factory=list)
    criteria: int = 0
    met: int = 0
    roles: list[RoleSignOffs] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def percent(self) -> int:
        if not self.criteria:
            return 100 if self.ready else 0
        return int(100 * self.met / self.criteria)

    def summary(self) -> str:
        """The blockers in one paragraph, for refusals: 'Not ready: … ; … .'"""
        return "; ".join(b.message for b in self.blockers)

    @property
    def override_categories(self) -> list[str]:
        """The policy settings an override of these blockers needs, each once, in order."""
        return list(dict.fromkeys(str(b.override_category) for b in self.blockers))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "percent": self.percent,
            "criteria": self.criteria,
            "met": self.met,
            "blockers": [b.as_dict() for b in self.blockers],
            "roles": [
                {
                    "role": r.role,
                    "quorum": r.quorum,
                    "state": r.state,
                    "go": [s.user.get_username() for s in r.go],
                    "no_go": [s.user.get_username() for s in r.no_go],
                    "stale": [s.user.get_username() for s in r.stale],
                }
                for r in self.roles
            ],
        }


def with_readiness_data(queryset: QuerySet[Release]) -> QuerySet[LoadedRelease]:
    """Load everything ``compute_readiness`` reads, in a fixed number of queries.

    The project's approval policy and the release's commit range are joined to the release's
    own query rather than read in queries of their own (the scope prefetches find the range
    there); the policies' required roles come in one query for all the releases."""
    return queryset.select_related(
        "project__approval_policy", "rollback_plan", "commit_range"
    ).prefetch_related(
        "project__approval_policy__requirements",
        "checklist_items",
        "scope_items",
        Prefetch(
            "checks",
            queryset=Check.objects.filter(phase=CheckPhase.PRE_RELEASE),
            to_attr="pre_release_checks",
        ),
        Prefetch(
            "sign_offs",
            queryset=SignOff.objects.current().select_related("user"),
            to_attr="current_sign_offs",
        ),
        Prefetch(
            "change_requests",
            queryset=ScopeChangeRequest.objects.filter(state=ScopeChangeRequest.State.PENDING),
            to_attr="pending_change_requests",
        ),
        *SCOPE_PREFETCHES,
    )


def required_roles(release: Release) -> tuple[dict[str, int], dt.timedelta | None]:
    """role → quorum for this release, and the sign-off expiry, from the project's policy."""
    policy = getattr(release.project, "approval_policy", None)
    if policy is None:
        return dict(DEFAULT_REQUIRED_ROLES[release.kind]), None
    return policy.required_roles(release.kind), policy.expiry()


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def role_states(
    release: Release, sign_offs: list[SignOff], *, now: dt.datetime
) -> list[RoleSignOffs]:
    """Where each required role stands, from the release's current sign-offs.

    Part of ``compute_readiness``; the sign-off service also calls it to notice the moment the
    last required sign-off arrives, without loading the rest of the readiness data.
    """
    quorum_by_role, expiry = required_roles(release)
    by_role: dict[str, list[SignOff]] = defaultdict(list)
    for sign_off in sign_offs:
        if sign_off.is_current and sign_off.withdrawn_at is None:
            by_role[sign_off.role].append(sign_off)
    states = []
    for role, quorum in sorted(
        quorum_by_role.items(), key=lambda kv: list(ROLE_LABELS).index(kv[0])
    ):
        signs = by_role.get(role, [])
        fresh = [s for s in signs if not s.is_stale(expiry=expiry, now=now)]
        states.append(
            RoleSignOffs(
                role=role,
                quorum=quorum,
                go=[s for s in fresh if s.decision == SignOff.Decision.GO],
                no_go=[s for s in fresh if s.decision == SignOff.Decision.NO_GO],
                stale=[s for s in signs if s.is_stale(expiry=expiry, now=now)],
            )
        )
    return states


def compute_readiness(release: Release, *, now: dt.datetime | None = None) -> Readiness:
    now = now or timezone.now()
    result = Readiness()

    def criterion(ok: bool, blocker: Blocker | None = None) -> None:
        result.criteria += 1
        if ok:
            result.met += 1
        elif blocker is not None:
            result.blockers.append(blocker)

    # Checklist.
    items = [i for i in release.checklist_items.all() if i.required and i.phase == Phase.READINESS]
    unticked = [i.title for i in items if not i.is_ticked]
    result.criteria += len(items)
    result.met += len(items) - len(unticked)
    if unticked:
        result.blockers.append(
            Blocker(
                "checklist",
                f"{plural(len(unticked), 'required checklist item', 'is')} not ticked: "
                f"{_names(unticked)}",
                "checklists",
            )
        )

    # Pre-release checks, fail closed.
    checks = getattr(release, "pre_release_checks", None)
    if checks is None:
        checks = list(release.checks.filter(phase=CheckPhase.PRE_RELEASE))
    for check in checks:
        if not check.required:
            continue
        if check.counts_as_passing(commit_sha=release.commit_sha, now=now):
            criterion(True)
            continue
        if check.is_stale_for(release.commit_sha):
            why = f"its last result is for commit {check.observed_sha[:10]}, not this one"
        elif check.status == "passing":
            why = "passing, but not for long enough yet"
        else:
            why = check.get_status_display().lower()
            if check.last_detail:
                why += f" – {check.last_detail[:120]}"
        criterion(False, Blocker("check", f"Check “{check.name}” is not passing: {why}", "checks"))

    # Rollback plan.
    plan = getattr(release, "rollback_plan", None)
    gaps = plan.missing(release.kind) if plan is not None else ["everything"]
    criterion(
        not gaps,
        Blocker("rollback_plan", f"The rollback plan is missing {_names(gaps)}", "rollback"),
    )

    # Blocker-level risks.
    open_risks = [i for i in release.scope_items.all() if i.is_open_blocker]
    result.criteria += 1
    result.met += 0 if open_risks else 1
    for item in open_risks:
        label = f"{item.key} {item.title}".strip()
        result.blockers.append(Blocker("risk", f"Open blocker risk: {label}", "scope"))

    # Scope change requests still waiting.
    pending = getattr(release, "pending_change_requests", None)
    if pending is None:
        pending = list(release.change_requests.filter(state=ScopeChangeRequest.State.PENDING))
    criterion(
        not pending,
        Blocker(
            "change_request",
            f"{plural(len(pending), 'scope change request', 'is')} waiting for a decision",
            "scope",
        ),
    )

    # What the trackers and the commit range say about the scope.
    scope_criteria, problems = scope_problems(release)
    result.criteria += scope_criteria
    result.met += scope_criteria - len(problems)
    result.blockers += [Blocker(p.kind, p.message, "scope") for p in problems]

    # Sign-offs.
    sign_offs = getattr(release, "current_sign_offs", None)
    if sign_offs is None:
        sign_offs = list(SignOff.objects.current().filter(release=release).select_related("user"))
    for state in role_states(release, sign_offs, now=now):
        result.roles.append(state)
        role, quorum = state.role, state.quorum
        label = ROLE_LABELS[role]
        result.criteria += quorum
        result.met += min(quorum, len(state.go))
        for sign_off in state.no_go:
            result.blockers.append(
                Blocker(
                    "sign_off",
                    f"{label}: {sign_off.user.get_username()} said No-go – {sign_off.comment}",
                    "signoffs",
                    no_go=True,
                )
            )
        if len(state.go) < quorum and not state.no_go:
            if state.stale:
                why = ", ".join(
                    f"{s.user.get_username()}'s is stale ({s.stale_reason or 'expired'})"
                    for s in state.stale
                )
                message = f"{label} sign-off is stale: {why}"
            elif quorum > 1:
                message = f"{label} needs {quorum} Go sign-offs, has {len(state.go)}"
            else:
                message = f"{label} has not signed off"
            result.blockers.append(Blocker("sign_off", message, "signoffs"))
    return result


def readiness_for(release: Release, *, now: dt.datetime | None = None) -> Readiness:
    """Convenience for one release that was not loaded with ``with_readiness_data``."""
    loaded = with_readiness_data(Release.objects.filter(pk=release.pk)).get()
    return compute_readiness(loaded, now=now)


def policy_for(project: Any) -> ApprovalPolicy:
    """The project's approval policy; a project without one is held to the defaults."""
    policy = ApprovalPolicy.objects.filter(project_id=project.pk).first()
    return policy if policy is not None else ApprovalPolicy(project=project)
