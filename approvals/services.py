"""Sign-offs and the go/no-go decision.

Same shape as every service: guard → atomic with the release row locked → change → event →
notifications on commit. The decision reads ``approvals.readiness``, the one place readiness is
computed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from approvals.deploy import guard_override, withdraw_approval
from approvals.models import (
    CREATOR_SIGNS,
    DEFAULT_REQUIRED_ROLES,
    SIGNER_DECIDES,
    ApprovalPolicy,
    Decision,
    Reminder,
    RoleRequirement,
    SignOff,
)
from approvals.readiness import (
    Readiness,
    RoleSignOffs,
    compute_readiness,
    required_roles,
    role_states,
    with_readiness_data,
)
from lib.errors import NotAllowed, Refused
from releases.events import log_event, log_project_change, log_project_event
from releases.models import (
    SIGNING_ROLES,
    Project,
    ProjectEventKind,
    Release,
    ReleaseKind,
    Role,
    RoleAssignment,
    Status,
)
from releases.notifications import notify
from releases.services.common import (
    is_release_manager,
    lock_release,
    people_on,
    reject_unknown_fields,
    release_managers,
)
from releases.services.lifecycle import approve_release, return_to_frozen
from releases.services.roles import ask_for_go_no_go

SIGNABLE_STATUSES = (Status.FROZEN, Status.APPROVED)
# A No-go still counts once the deploy has begun: it is recorded and the deciders hear of it
# (the deploy is stopped by a rollback, which is a person's call).
NO_GO_STATUSES = (*SIGNABLE_STATUSES, Status.DEPLOYING)


def ensure_policy(project: Project) -> ApprovalPolicy:
    """The project's policy, created with the defaults the first time it is needed."""
    policy, created = ApprovalPolicy.objects.get_or_create(project=project)
    if created:
        RoleRequirement.objects.bulk_create(
            [
                RoleRequirement(policy=policy, release_kind=kind, role=role, quorum=quorum)
                for kind, roles in DEFAULT_REQUIRED_ROLES.items()
                for role, quorum in roles.items()
            ]
        )
    return policy


POLICY_FIELDS = (
    "separation_of_duties",
    "creator_cannot_sign_off",
    "signer_cannot_decide",
    "no_self_assignment",
    "require_commit_before_poll",
    "sign_off_expiry_days",
    "decider_role",
    "reminder_hours_before",
    "override_no_go",
    "override_sign_offs",
    "override_checks",
    "override_freeze",
    "override_deploy_window",
)


def update_policy(
    project: Project,
    *,
    by: Any,
    requirements: Iterable[dict[str, Any]] = (),
    **changes: Any,
) -> ApprovalPolicy:
    """Change the project's approval policy (fields in ``POLICY_FIELDS``) and, in the same
    transaction, its required roles (``requirements``: release_kind, role, quorum each). The one
    way the policy changes, from the page and the API alike; field errors raise
    ``ValidationError`` and change nothing."""
    reject_unknown_fields(changes, POLICY_FIELDS, "policy")
    if changes.get("decider_role") == Role.VIEWER:
        raise ValidationError({"decider_role": "A viewer cannot record the go/no-go."})
    with transaction.atomic():
        policy = ensure_policy(project)
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.full_clean(exclude=["project"])
        log_project_change(project, actor=by, kind=ProjectEventKind.APPROVAL_POLICY, row=policy)
        policy.save()
        for requirement in requirements:
            set_role_requirement(project, by=by, **requirement)
    return policy


MAX_QUORUM = 20


def set_role_requirement(
    project: Project, *, by: Any, release_kind: str, role: str, quorum: int
) -> None:
    """Require ``quorum`` Go sign-offs from ``role`` on ``release_kind`` releases; 0 removes it."""
    if release_kind not in ReleaseKind.values:
        raise ValidationError({"release_kind": "Unknown release kind."})
    if role not in Role.values or role == Role.VIEWER:
        raise ValidationError({"role": "Viewers do not sign off."})
    try:
        quorum = int(quorum)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"quorum": "Give a whole number."}) from exc
    if quorum < 0:
        raise ValidationError({"quorum": "The quorum cannot be negative."})
    if quorum > MAX_QUORUM:
        raise ValidationError({"quorum": f"At most {MAX_QUORUM} sign-offs per role."})
    with transaction.atomic():
        policy = ensure_policy(project)
        requirements = policy.requirements.select_for_update().filter(
            release_kind=release_kind, role=role
        )
        was = requirements.values_list("quorum", flat=True).first() or 0
        if quorum == 0:
            requirements.delete()
        else:
            RoleRequirement.objects.update_or_create(
                policy=policy, release_kind=release_kind, role=role, defaults={"quorum": quorum}
            )
        if quorum != was:
            _log_quorum(project, by=by, release_kind=release_kind, role=role, was=was, now=quorum)


def _log_quorum(
    project: Project, *, by: Any, release_kind: str, role: str, was: int, now: int
) -> None:
    kind_label = ReleaseKind(release_kind).label.lower()
    field = f"quorum.{release_kind}.{role}"
    log_project_event(
        project,
        actor=by,
        kind=ProjectEventKind.APPROVAL_POLICY,
        action="changed",
        summary=f"{Role(role).label} sign-offs required on {kind_label} releases: {was} → {now}",
        before={field: was},
        after={field: now},
        data={"release_kind": release_kind, "role": role},
    )


def _policy(release: Release) -> ApprovalPolicy:
    return ensure_policy(release.project)


def _role_states(
    release: Release, sign_offs: list[SignOff], now: dt.datetime
) -> list[RoleSignOffs]:
    return role_states(release, sign_offs, now=now)


def _all_signed(states: list[RoleSignOffs]) -> bool:
    """Every required role has its quorum of fresh Go's and nobody said No-go."""
    return bool(states) and all(state.state == "go" for state in states)


def _deciders(release: Release, policy: ApprovalPolicy) -> list[Any]:
    roles = {policy.decider_role, Role.RELEASE_MANAGER}
    return people_on(release, roles=roles)


def record_sign_off(
    release: Release, *, by: Any, role: str, decision: str, comment: str = ""
) -> SignOff:
    """Give (or replace) my Go or No-go for one role; the earlier one is kept as history.

    Only people assigned the role on the release sign for it; with separation of duties (the
    default) one person signs for one role only. Concurrent calls for one release run one after
    the other behind the release row lock; the partial unique constraint on current sign-offs is
    the backstop for any writer that skips the lock.
    """
    comment = comment.strip()
    if role not in SIGNING_ROLES:
        raise ValidationError({"role": "Choose a role that signs off."})
    if decision not in SignOff.Decision.values:
        raise ValidationError({"decision": "Choose Go or No-go."})
    if decision == SignOff.Decision.NO_GO and not comment:
        raise ValidationError({"comment": "A No-go needs a reason."})
    with transaction.atomic():
        release = lock_release(release)
        allowed = NO_GO_STATUSES if decision == SignOff.Decision.NO_GO else SIGNABLE_STATUSES
        if release.status not in allowed:
            raise Refused(
                "Sign-offs are given once the scope is locked and before the deploy; the release "
                f"is {release.get_status_display().lower()}."
            )
        if not RoleAssignment.objects.filter(release=release, user=by, role=role).exists():
            raise NotAllowed(
                f"You are not assigned as {Role(role).label} on this release, so you cannot "
                "sign for that role."
            )
        policy = _policy(release)
        if not policy.creator_may_sign(release, by):
            raise NotAllowed(CREATOR_SIGNS)
        current = list(SignOff.objects.current().filter(release=release).select_related("user"))
        if policy.separation_of_duties:
            other = next((s for s in current if s.user_id == by.pk and s.role != role), None)
            if other is not None:
                raise NotAllowed(
                    f"You already signed as {other.get_role_display()}; one person gives at most "
                    "one role's sign-off on a release."
                )
        now = timezone.now()
        complete_before = _all_signed(_role_states(release, current, now))
        previous = (
            SignOff.objects.select_for_update()
            .filter(release=release, user=by, role=role, is_current=True)
            .first()
        )
        if previous is not None:
            previous.is_current = False
            previous.superseded_at = now
            previous.save(update_fields=["is_current", "superseded_at"])
        try:
            with transaction.atomic():
                sign_off = SignOff.objects.create(
                    release=release,
                    user=by,
                    role=role,
                    decision=decision,
                    comment=comment,
                    created_at=now,
                )
        except IntegrityError as exc:
            raise Refused(
                f"Your {Role(role).label} sign-off was recorded by another request at the same "
                "moment; reload the page to see it."
            ) from exc
        label = sign_off.get_role_display()
        verb = "sign_off_go" if decision == SignOff.Decision.GO else "sign_off_no_go"
        log_event(
            release,
            actor=by,
            verb=verb,
            summary=f"{label}: {sign_off.get_decision_display()}"
            + (f" – {comment}" if comment else "")
            + (" (replaces the earlier sign-off)" if previous else ""),
            before={"decision": previous.decision} if previous else None,
            after={"decision": decision, "role": role},
            data={"sign_off": sign_off.pk, "role": role},
        )
        if decision == SignOff.Decision.NO_GO:
            notify(
                _deciders(release, policy),
                release=release,
                verb="no_go",
                message=f"{by} said No-go as {label} on {release}: {comment}"
                + (
                    " – the deploy is under way: consider a rollback."
                    if release.status == Status.DEPLOYING
                    else ""
                ),
                exclude=by,
            )
        _withdraw_lapsed_approval(release, policy, by=by, now=now)
        after = [s for s in current if s.pk != getattr(previous, "pk", None)] + [sign_off]
        if not complete_before and _all_signed(_role_states(release, after, now)):
            # Exactly one sign-off completes the set: the row lock orders them, so this fires once.
            log_event(
                release,
                actor=by,
                verb="sign_offs_complete",
                summary="Every required role has signed Go",
                data={"sign_off": sign_off.pk},
            )
            notify(
                _deciders(release, policy),
                release=release,
                verb="sign_offs_complete",
                message=f"Every required sign-off on {release} is in: the go/no-go can be "
                "recorded.",
            )
    return sign_off


def withdraw_sign_off(release: Release, *, by: Any, role: str) -> SignOff:
    """Take back my current sign-off for a role until the deploy starts; if it carried the Go,
    the Go is withdrawn with it."""
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in SIGNABLE_STATUSES:
            raise Refused(
                "Sign-offs can be withdrawn until the deploy starts; the release is "
                f"{release.get_status_display().lower()}."
            )
        sign_off = (
            SignOff.objects.select_for_update()
            .filter(release=release, user=by, role=role, is_current=True, withdrawn_at__isnull=True)
            .first()
        )
        if sign_off is None:
            raise Refused("You have no sign-off to withdraw for this role.")
        sign_off.withdrawn_at = timezone.now()
        sign_off.is_current = False
        sign_off.save(update_fields=["withdrawn_at", "is_current"])
        log_event(
            release,
            actor=by,
            verb="sign_off_withdrawn",
            summary=f"{sign_off.get_role_display()}: {by} withdrew their "
            f"{sign_off.get_decision_display()}",
            before={"decision": sign_off.decision},
            data={"sign_off": sign_off.pk, "role": role},
        )
        _withdraw_lapsed_approval(release, _policy(release), by=by, now=sign_off.withdrawn_at)
    return sign_off


def _withdraw_lapsed_approval(
    release: Release, policy: ApprovalPolicy, *, by: Any, now: dt.datetime
) -> bool:
    """Withdraw the Go of an approved release whose sign-offs no longer carry it.

    The Go lapses when a No-go stands, or when a role that was Go at the decision is no longer
    (withdrawn, stale, expired). Runs inside the caller's transaction with the row locked.
    """
    if release.status != Status.APPROVED:
        return False
    current = list(SignOff.objects.current().filter(release=release).select_related("user"))
    states = _role_states(release, current, now)
    go = Decision.objects.filter(release=release, outcome=Decision.Outcome.GO).first()
    roles_at_go = (go.snapshot or {}).get("readiness", {}).get("roles", []) if go else []
    were_go = {row.get("role") for row in roles_at_go if row.get("state") == "go"}
    lapsed = [
        state
        for state in states
        if state.state == "no_go" or (state.role in were_go and state.state != "go")
    ]
    if not lapsed:
        return False
    reasons = []
    for state in lapsed:
        if state.no_go:
            reasons.extend(
                f"{s.user.get_username()} said No-go as {state.label}" for s in state.no_go
            )
        elif state.stale:
            reasons.append(f"the {state.label} sign-off is stale")
        else:
            reasons.append(f"the {state.label} sign-off is no longer there")
    withdraw_approval(release, by=by, reason=", ".join(reasons), tell=_deciders(release, policy))
    return True


def withdraw_lapsed_approvals(*, now: dt.datetime | None = None) -> int:
    """Beat: withdraw the Go of approved releases whose sign-offs expired since (sign-offs that
    are given, withdrawn or made stale withdraw it at once, in their own transaction)."""
    now = now or timezone.now()
    withdrawn = 0
    candidates = Release.objects.filter(
        status=Status.APPROVED, project__approval_policy__sign_off_expiry_days__isnull=False
    ).values_list("pk", flat=True)
    for pk in candidates:
        with transaction.atomic():
            release = lock_release(Release(pk=pk))
            withdrawn += _withdraw_lapsed_approval(
                release, _policy(release), by="scheduler", now=now
            )
    return withdrawn


def mark_sign_offs_stale(release: Release, *, reason: str, event: Any, by: Any) -> int:
    """Current sign-offs stop counting because what they approved changed; ask again.

    Runs inside the transaction of the change (``releases.signals.approved_content_changed``),
    with the release row already locked. The event names the change and points at its event.
    """
    stale = list(
        SignOff.objects.select_for_update()
        .current()
        .filter(release=release, stale_at__isnull=True)
        .select_related("user")
    )
    if not stale:
        return 0
    now = timezone.now()
    SignOff.objects.filter(pk__in=[s.pk for s in stale]).update(
        stale_at=now, stale_reason=reason[:300]
    )
    names = ", ".join(f"{s.user} ({s.get_role_display()})" for s in stale)
    log_event(
        release,
        actor=by,
        verb="sign_offs_stale",
        summary=f"Sign-offs now stale because {reason}: {names}",
        data={
            "sign_offs": [s.pk for s in stale],
            "reason": reason,
            "cause_event": getattr(event, "pk", None),
            "cause_verb": getattr(event, "verb", None),
        },
    )
    notify(
        [s.user for s in stale],
        release=release,
        verb="sign_off_stale",
        message=f"Your sign-off on {release} is stale because {reason}. Please sign again.",
    )
    return len(stale)


def _may_decide(by: Any, release: Release, policy: ApprovalPolicy) -> bool:
    if not hasattr(by, "is_superuser"):
        return False
    if by.is_superuser:
        return True
    return (
        RoleAssignment.objects.filter(release=release, user=by, role=policy.decider_role).exists()
        or release.project.memberships.filter(user=by, role=policy.decider_role).exists()
    )


def open_poll(release: Release, *, by: Any) -> Release:
    """Ask every required role's assignees for their go/no-go (the release manager or the
    policy's decider opens it, on a frozen release)."""
    with transaction.atomic():
        release = lock_release(release)
        policy = _policy(release)
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
        if policy.require_commit_before_poll and not release.commit_sha:
            raise Refused(
                "The go/no-go poll opens once the release names its commit: people approve one "
                "exact build. Set the commit SHA first (the project's approval policy)."
            )
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
    loaded: Release,
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


def _load_for_decision(release: Release) -> Release:
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
        policy = _policy(release)
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


# --- reminders and escalation ----------------------------------------------------------------


def _pending_people(release: Release, missing: list[RoleSignOffs]) -> dict[Any, list[str]]:
    """user → the missing roles they are assigned and have not answered (stale counts as not)."""
    answered = {(s.user_id, state.role) for state in missing for s in (*state.go, *state.no_go)}
    pending: dict[Any, list[str]] = defaultdict(list)
    assignments = RoleAssignment.objects.filter(
        release=release, role__in=[state.role for state in missing]
    ).select_related("user")
    for assignment in assignments:
        if (assignment.user_id, assignment.role) not in answered:
            pending[assignment.user].append(assignment.role)
    return pending


def _missing_roles_text(missing: list[RoleSignOffs]) -> str:
    parts = []
    for state in missing:
        if state.no_go:
            parts.append(f"{state.label} (No-go)")
        elif state.quorum > 1:
            parts.append(f"{state.label} ({len(state.go)} of {state.quorum} Go's)")
        else:
            parts.append(state.label)
    return ", ".join(parts)


def remind_release(release: Release, *, now: dt.datetime | None = None) -> int:
    """Send the reminders and the escalation now due on one release; return how many went out.

    A reminder goes to each assignee of a role that is still missing, once the policy's
    ``reminder_hours_before`` the planned go/no-go is reached; at the go/no-go time with roles
    still missing, the release managers are told. Each is recorded (``Reminder``) under the
    release row lock, so running this twice, or in two workers at once, sends each only once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        release = lock_release(release)
        due = release.go_no_go_at
        if release.status != Status.FROZEN or due is None:
            return 0
        policy = _policy(release)
        if now < due - dt.timedelta(hours=policy.reminder_hours_before):
            return 0
        current = list(SignOff.objects.current().filter(release=release).select_related("user"))
        missing = [s for s in _role_states(release, current, now) if s.state != "go"]
        if not missing:
            return 0
        kind = Reminder.Kind.ESCALATION if now >= due else Reminder.Kind.REMINDER
        if kind == Reminder.Kind.REMINDER:
            targets = _pending_people(release, missing)
        else:
            roles = [state.role for state in missing]
            targets = dict.fromkeys(release_managers(release), roles)
        already = set(
            Reminder.objects.filter(release=release, kind=kind, go_no_go_at=due).values_list(
                "user_id", flat=True
            )
        )
        targets = {user: roles for user, roles in targets.items() if user.pk not in already}
        if not targets:
            return 0
        Reminder.objects.bulk_create(
            [
                Reminder(
                    release=release, user=user, kind=kind, go_no_go_at=due, roles=roles, sent_at=now
                )
                for user, roles in targets.items()
            ]
        )
        what = _missing_roles_text(missing)
        names = ", ".join(sorted(user.get_username() for user in targets))
        when = f"{due:%Y-%m-%d %H:%M} UTC"
        if kind == Reminder.Kind.REMINDER:
            log_event(
                release,
                actor="scheduler",
                verb="sign_off_reminder",
                summary=f"Reminded {names}: sign-offs still missing from {what}; go/no-go {when}",
                data={"users": sorted(u.pk for u in targets), "go_no_go_at": due.isoformat()},
            )
            for user, roles in targets.items():
                notify(
                    [user],
                    release=release,
                    verb="sign_off_reminder",
                    message=f"Reminder: your go/no-go as "
                    f"{', '.join(Role(r).label for r in roles)} on {release} is needed before "
                    f"{when}.",
                    chat=False,
                )
        else:
            log_event(
                release,
                actor="scheduler",
                verb="sign_offs_escalated",
                summary=f"Go/no-go time reached with sign-offs missing from {what}; told {names}",
                data={"users": sorted(u.pk for u in targets), "go_no_go_at": due.isoformat()},
            )
            notify(
                list(targets),
                release=release,
                verb="sign_offs_escalated",
                message=f"The go/no-go time of {release} ({when}) has come and sign-offs are "
                f"still missing from {what}.",
            )
    return len(targets)


def send_due_reminders(*, now: dt.datetime | None = None) -> int:
    """Remind and escalate on every frozen release that is due (the beat task's one call)."""
    now = now or timezone.now()
    longest = ApprovalPolicy.objects.aggregate(longest=Max("reminder_hours_before"))["longest"]
    horizon = now + dt.timedelta(hours=longest or 0)
    escalated = Reminder.objects.filter(
        release=OuterRef("pk"),
        kind=Reminder.Kind.ESCALATION,
        go_no_go_at=OuterRef("go_no_go_at"),
    )
    candidates = (
        Release.objects.filter(
            status=Status.FROZEN, go_no_go_at__isnull=False, go_no_go_at__lte=horizon
        )
        .exclude(Exists(escalated))
        .order_by("go_no_go_at")
    )
    sent = 0
    for release in candidates:
        sent += remind_release(release, now=now)
    return sent
