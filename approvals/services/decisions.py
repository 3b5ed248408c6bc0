"""Decisions: opening the poll and recording Go or No-go with a frozen snapshot of readiness.

The decision reads ``releases.readiness``, the one place readiness is computed, once, under the
release row lock.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import SIGNER_DECIDES, ApprovalPolicy, Decision, SignOff
from approvals.readiness import Readiness, compute_readiness, required_roles, with_readiness_data
from approvals.services.deploy import guard_override
from approvals.services.policy import ensure_release_policy
from approvals.services.sign_offs import SIGNABLE_STATUSES
from lib.errors import NotAllowed, Refused
from releases.events import log_event
from releases.models import Release, Role, RoleAssignment, Status
from releases.notifications import notify
from releases.services.common import is_release_manager, lock_release, people_on
from releases.services.lifecycle import approve_release, return_to_frozen
from releases.services.roles import ask_for_go_no_go

if TYPE_CHECKING:
    from approvals.readiness import LoadedRelease


def _may_decide(by: Any, release: Release, policy: ApprovalPolicy) -> bool:
    if not hasattr(by, "is_superuser"):
        return False
    if by.is_superuser:
        return True
    return (
        RoleAssignment.objects.filter(release=release, user=by, role=policy.decider_role).exists()
        or release.project.memberships.filter(user=by, role=policy.decider_role).exists()
    )


def poll_refusal(release: Release, policy: ApprovalPolicy) -> str:
    """Why the policy keeps the go/no-go poll of this frozen release closed, or "" (the release
    page disables its button with the same words)."""
    if policy.require_commit_before_poll and not release.commit_sha:
        return (
            "The go/no-go poll opens once the release names its commit: people approve one "
            "exact build. Set the commit SHA first (the project's approval policy)."
        )
    return ""


def open_poll(release: Release, *, by: Any) -> Release:
    """Ask every required role's assignees for their go/no-go (the release manager or the
    policy's decider opens it, on a frozen release)."""

    with transaction.atomic():
        release = lock_release(release)
        policy = ensure_release_policy(release)
        if not (_may_decide(by, release, policy) or is_release_manager(release, by)):
            raise NotAllowed(
                f"Only the {policy.get_decider_role_display().lower()} opens the go/no-go poll."
            )
        if release.status != Status.FROZEN:
            raise Refused(
                "The go/no-go poll opens on a release whose scope is locked; it is "
                f"{release.get_status_display().lower()}."
            )
        if release.poll_opened_at:
            raise Refused("The go/no-go poll is already open.")
        if refusal := poll_refusal(release, policy):
            raise Refused(refusal)
        release.poll_opened_at = timezone.now()
        release.save(update_fields=["poll_opened_at", "updated_at"])
        roles, _ = required_roles(release)
        people = people_on(release, roles=roles)
        assigned = set(
            RoleAssignment.objects.filter(release=release, role__in=list(roles)).values_list(
                "role", flat=True
            )
        )
        nobody = [Role(r).label for r in roles if r not in assigned]
        log_event(
            release,
            actor=by,
            verb="poll_opened",
            summary="Go/no-go poll opened for "
            + ", ".join(Role(r).label for r in sorted(roles))
            + (f"; nobody is assigned as {', '.join(nobody)}" if nobody else ""),
            data={"roles": sorted(roles), "asked": sorted(p.pk for p in people)},
        )
        ask_for_go_no_go(release, people)
    return release


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def _snapshot(
    loaded: LoadedRelease,
    readiness: Readiness,
    now: dt.datetime,
    override: dict[str, Any] | None = None,
) -> dict[str, Any]:
    quorum_by_role = {state.role: state.quorum for state in readiness.roles}
    policy = getattr(loaded.project, "approval_policy", None)
    expiry = policy.expiry() if policy is not None else None
    return {
        "taken_at": now.isoformat(),
        # Who broke glass over which blockers, and why; None when the Go needed no override.
        "override": override,
        "relaxed_rules": policy.relaxed_rules() if policy is not None else [],
        "release": {
            "project": loaded.project.name,
            "version": loaded.version,
            "kind": loaded.kind,
            "status": loaded.status,
            "git_ref": loaded.git_ref,
            "commit_sha": loaded.commit_sha,
            "environment": loaded.environment,
            "go_no_go_at": _when(loaded.go_no_go_at),
            "deploy_window_start": _when(loaded.deploy_window_start),
            "deploy_window_end": _when(loaded.deploy_window_end),
        },
        "required_roles": quorum_by_role,
        "readiness": readiness.as_dict(),
        "sign_offs": [
            {
                "user": s.user.get_username(),
                "role": s.role,
                "decision": s.decision,
                "comment": s.comment,
                "given_at": _when(s.created_at),
                "stale": s.is_stale(expiry=expiry, now=now),
                "stale_reason": s.stale_reason
                or ("expired" if s.is_stale(expiry=expiry, now=now) else ""),
            }
            for s in sorted(loaded.current_sign_offs, key=lambda s: (s.role, s.created_at, s.pk))
        ],
        "checklist": [
            {
                "title": i.title,
                "phase": i.phase,
                "owner_role": i.owner_role,
                "required": i.required,
                "ticked": i.is_ticked,
                "ticked_by": str(i.ticked_by) if i.ticked_by_id else None,
                "ticked_at": _when(i.ticked_at),
                "evidence_note": i.evidence_note,
                "evidence_url": i.evidence_url,
            }
            for i in loaded.checklist_items.all()
        ],
        "checks": [
            {
                "name": c.name,
                "phase": c.phase,
                "required": c.required,
                "status": c.status,
                "value": c.last_value,
                "detail": c.last_detail,
                "observed_sha": c.observed_sha,
                "evaluated_at": _when(c.last_evaluated_at),
            }
            for c in loaded.checks.all()
        ],
        "scope": [
            {
                "kind": i.kind,
                "key": i.key,
                "title": i.title,
                "url": i.url,
                "risk": i.risk,
                "state": i.state,
                "added_after_freeze": i.added_after_freeze,
            }
            for i in loaded.scope_items.all()
        ],
    }


def _load_for_decision(release: Release) -> LoadedRelease:

    return (
        with_readiness_data(Release.objects.filter(pk=release.pk))
        .prefetch_related("checklist_items__ticked_by", "checks")
        .get()
    )


def _no_go_reasons(readiness: Readiness) -> list[str]:
    return [
        f"{state.label}: {s.user.get_username()} said No-go – {s.comment}"
        for state in readiness.roles
        for s in state.no_go
    ]


def record_decision(
    release: Release,
    *,
    by: Any,
    outcome: str,
    notes: str = "",
    override_reason: str = "",
) -> Decision:
    """Record Go (frozen → approved) or No-go (back to / stays frozen) with a frozen snapshot.

    Readiness is computed once, under the release row lock, and that same result decides
    whether an override is needed and goes into the snapshot. A Go on a release that is not
    ready needs ``override_reason`` and someone the approval policy lets override each kind of
    blocker; it flags the release for good. Whoever signed off does not decide (policy). A No-go
    lists its reasons: ``notes`` and every No-go sign-off.
    """

    notes, override_reason = notes.strip(), override_reason.strip()
    if outcome not in Decision.Outcome.values:
        raise ValidationError({"outcome": "Choose Go or No-go."})
    with transaction.atomic():
        release = lock_release(release)
        policy = ensure_release_policy(release)
        if not _may_decide(by, release, policy):
            raise NotAllowed(
                f"Only the {policy.get_decider_role_display().lower()} records the go/no-go."
            )
        if outcome == Decision.Outcome.GO and release.status != Status.FROZEN:
            raise Refused(
                f"A Go is recorded on a frozen release; this one is "
                f"{release.get_status_display().lower()}."
            )
        if outcome == Decision.Outcome.NO_GO and release.status not in SIGNABLE_STATUSES:
            raise Refused(
                f"A No-go is recorded before the deploy; the release is "
                f"{release.get_status_display().lower()}."
            )
        signers = set(
            SignOff.objects.current()
            .filter(release=release, withdrawn_at__isnull=True)
            .values_list("user_id", flat=True)
        )
        if not policy.signer_may_decide(by, signers):
            raise NotAllowed(SIGNER_DECIDES)
        now = timezone.now()
        loaded = _load_for_decision(release)
        readiness = compute_readiness(loaded, now=now)
        overridden = False
        if outcome == Decision.Outcome.GO and not readiness.ready:
            if not override_reason:
                anyone = policy.override_refusal(
                    readiness.override_categories, is_admin=False, is_release_manager=False
                )
                raise Refused(
                    f"Not ready: {readiness.summary()}. A Go now needs an override with a reason."
                    + (f" {anyone[0]}" if anyone is not None and not anyone[1] else "")
                )
            guard_override(
                release, readiness.blockers, by=by, reason=override_reason, action="record a Go"
            )
            overridden = True
        if outcome == Decision.Outcome.NO_GO:
            reasons = ([notes] if notes else []) + _no_go_reasons(readiness)
            if not reasons:
                raise ValidationError({"notes": "List the reasons for the No-go."})
            notes = "\n".join(reasons)
        decision = Decision.objects.create(
            release=release,
            outcome=outcome,
            decided_by=by,
            decided_at=now,
            notes=notes,
            overridden=overridden,
            override_reason=override_reason if overridden else "",
            snapshot=_snapshot(
                loaded,
                readiness,
                now,
                override=(
                    {
                        "reason": override_reason,
                        "by": by.get_username(),
                        "blockers": [b.as_dict() for b in readiness.blockers],
                        "categories": readiness.override_categories,
                    }
                    if overridden
                    else None
                ),
            ),
        )
        blockers = [b.message for b in readiness.blockers]
        if outcome == Decision.Outcome.GO:
            summary = "Go decision recorded"
            if overridden:
                summary += f" OVER {len(blockers)} blockers – override: {override_reason}"
                release.override_used = True
                release.save(update_fields=["override_used", "updated_at"])
            log_event(
                release,
                actor=by,
                verb="decision_go" if not overridden else "decision_override",
                summary=summary,
                data={
                    "decision": decision.pk,
                    "blockers": blockers,
                    "override_reason": override_reason if overridden else "",
                    "override_categories": readiness.override_categories if overridden else [],
                },
            )
            approve_release(release, by=by, summary="Approved for deploy")
        else:
            log_event(
                release,
                actor=by,
                verb="decision_no_go",
                summary="No-go decision recorded: " + "; ".join(notes.splitlines()),
                data={"decision": decision.pk, "reasons": notes.splitlines()},
            )
            return_to_frozen(
                release,
                by=by,
                summary="Back to frozen after the No-go: " + "; ".join(notes.splitlines()),
            )
        message = f"{decision.get_outcome_display()} on {release}"
        if overridden:
            message += f" with an override over {len(blockers)} blockers: {override_reason}"
        elif notes:
            message += ": " + "; ".join(notes.splitlines())
        notify(
            people_on(release),
            release=release,
            verb="override_used" if overridden else "decision",
            message=message,
        )
    return decision
