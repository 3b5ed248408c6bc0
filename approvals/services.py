"""Sign-offs and the go/no-go decision.

Same shape as every service: guard → atomic with the release row locked → change → event →
notifications on commit. The decision reads ``releases.readiness``, the one place readiness is
computed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import (
    DEFAULT_REQUIRED_ROLES,
    ApprovalPolicy,
    Decision,
    RoleRequirement,
    SignOff,
)
from releases import services as release_services
from releases.errors import NotAllowed, Refused
from releases.events import log_event
from releases.models import Project, Release, ReleaseKind, Role, RoleAssignment, Status
from releases.notifications import notify

SIGNABLE_STATUSES = (Status.FROZEN, Status.APPROVED)


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
    "sign_off_expiry_days",
    "decider_role",
    "reminder_hours_before",
)


def update_policy(project: Project, *, by: Any, **changes: Any) -> ApprovalPolicy:
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown policy fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        policy = ensure_policy(project)
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.full_clean(exclude=["project"])
        policy.save()
    return policy


def set_role_requirement(
    project: Project, *, by: Any, release_kind: str, role: str, quorum: int
) -> None:
    """Require ``quorum`` Go sign-offs from ``role`` on ``release_kind`` releases; 0 removes it."""
    if release_kind not in ReleaseKind.values:
        raise ValidationError({"release_kind": "Unknown release kind."})
    if role not in Role.values or role == Role.VIEWER:
        raise ValidationError({"role": "Viewers do not sign off."})
    if quorum < 0:
        raise ValidationError({"quorum": "The quorum cannot be negative."})
    with transaction.atomic():
        policy = ensure_policy(project)
        if quorum == 0:
            policy.requirements.filter(release_kind=release_kind, role=role).delete()
        else:
            RoleRequirement.objects.update_or_create(
                policy=policy, release_kind=release_kind, role=role, defaults={"quorum": quorum}
            )


def _policy(release: Release) -> ApprovalPolicy:
    return ensure_policy(release.project)


def record_sign_off(
    release: Release, *, by: Any, role: str, decision: str, comment: str = ""
) -> SignOff:
    """Give (or replace) my Go or No-go for one role; the earlier one is kept as history."""
    comment = comment.strip()
    if decision not in SignOff.Decision.values:
        raise ValidationError({"decision": "Choose Go or No-go."})
    if decision == SignOff.Decision.NO_GO and not comment:
        raise ValidationError({"comment": "A No-go needs a reason."})
    with transaction.atomic():
        release = release_services.lock_release(release)
        if release.status not in SIGNABLE_STATUSES:
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
        if policy.separation_of_duties:
            other = (
                SignOff.objects.current()
                .filter(release=release, user=by, withdrawn_at__isnull=True)
                .exclude(role=role)
                .first()
            )
            if other is not None:
                raise NotAllowed(
                    f"You already signed as {other.get_role_display()}; one person gives at most "
                    "one role's sign-off on a release."
                )
        now = timezone.now()
        previous = (
            SignOff.objects.select_for_update()
            .filter(release=release, user=by, role=role, is_current=True)
            .first()
        )
        if previous is not None:
            previous.is_current = False
            previous.superseded_at = now
            previous.save(update_fields=["is_current", "superseded_at"])
        sign_off = SignOff.objects.create(
            release=release, user=by, role=role, decision=decision, comment=comment, created_at=now
        )
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
                release_services.people_on(release, roles=("release_manager",)),
                release=release,
                verb="no_go",
                message=f"{by} said No-go as {label} on {release}: {comment}",
                exclude=by,
            )
    return sign_off


def withdraw_sign_off(release: Release, *, by: Any, role: str) -> SignOff:
    with transaction.atomic():
        release = release_services.lock_release(release)
        if release.status not in SIGNABLE_STATUSES:
            raise Refused("The decision has been taken; sign-offs can no longer be withdrawn.")
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
            data={"sign_off": sign_off.pk, "role": role},
        )
    return sign_off


def mark_sign_offs_stale(release: Release, *, reason: str, event: Any, by: Any) -> int:
    """Current sign-offs stop counting because what they approved changed; ask again."""
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
        data={"sign_offs": [s.pk for s in stale], "cause_event": getattr(event, "pk", None)},
    )
    notify(
        [s.user for s in stale],
        release=release,
        verb="sign_off_stale",
        message=f"Your sign-off on {release} is stale because {reason}. Please sign again.",
    )
    return len(stale)


def open_poll(release: Release, *, by: Any) -> Release:
    """Ask every required role's assignees for their go/no-go."""
    from releases.readiness import required_roles

    with transaction.atomic():
        release = release_services.lock_release(release)
        if release.status != Status.FROZEN:
            raise Refused(
                "The go/no-go poll opens on a release whose scope is locked; it is "
                f"{release.get_status_display().lower()}."
            )
        if release.poll_opened_at:
            raise Refused("The go/no-go poll is already open.")
        release.poll_opened_at = timezone.now()
        release.save(update_fields=["poll_opened_at", "updated_at"])
        roles, _ = required_roles(release)
        log_event(
            release,
            actor=by,
            verb="poll_opened",
            summary="Go/no-go poll opened for " + ", ".join(sorted(roles)),
        )
        notify(
            release_services.people_on(release, roles=roles),
            release=release,
            verb="sign_off_requested",
            message=f"Your go/no-go is needed on {release}.",
        )
    return release


def build_snapshot(release: Release) -> dict[str, Any]:
    """Everything the decision rested on, as plain JSON that never changes afterwards."""
    from releases.readiness import compute_readiness, with_readiness_data

    loaded = with_readiness_data(Release.objects.filter(pk=release.pk)).get()
    readiness = compute_readiness(loaded)

    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "taken_at": timezone.now().isoformat(),
        "release": {
            "project": loaded.project.name,
            "version": loaded.version,
            "kind": loaded.kind,
            "status": loaded.status,
            "git_ref": loaded.git_ref,
            "commit_sha": loaded.commit_sha,
            "environment": loaded.environment,
        },
        "readiness": readiness.as_dict(),
        "sign_offs": [
            {
                "user": s.user.get_username(),
                "role": s.role,
                "decision": s.decision,
                "comment": s.comment,
                "given_at": when(s.created_at),
                "stale": s.stale_at is not None,
                "stale_reason": s.stale_reason,
            }
            for s in loaded.current_sign_offs
        ],
        "checklist": [
            {
                "title": i.title,
                "phase": i.phase,
                "owner_role": i.owner_role,
                "required": i.required,
                "ticked": i.is_ticked,
                "ticked_by": str(i.ticked_by) if i.ticked_by_id else None,
                "ticked_at": when(i.ticked_at),
                "evidence_note": i.evidence_note,
                "evidence_url": i.evidence_url,
            }
            for i in loaded.checklist_items.select_related("ticked_by")
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
                "evaluated_at": when(c.last_evaluated_at),
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


def _may_decide(by: Any, release: Release, policy: ApprovalPolicy) -> bool:
    if by.is_superuser:
        return True
    return (
        RoleAssignment.objects.filter(release=release, user=by, role=policy.decider_role).exists()
        or release.project.memberships.filter(user=by, role=policy.decider_role).exists()
    )


def record_decision(
    release: Release,
    *,
    by: Any,
    outcome: str,
    notes: str = "",
    override_reason: str = "",
) -> Decision:
    """Record Go (frozen → approved) or No-go (back to / stays frozen) with a frozen snapshot."""
    from releases.readiness import readiness_for

    notes, override_reason = notes.strip(), override_reason.strip()
    if outcome not in Decision.Outcome.values:
        raise ValidationError({"outcome": "Choose Go or No-go."})
    if outcome == Decision.Outcome.NO_GO and not notes:
        raise ValidationError({"notes": "List the reasons for the No-go."})
    with transaction.atomic():
        release = release_services.lock_release(release)
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
        readiness = readiness_for(release)
        overridden = False
        if outcome == Decision.Outcome.GO and not readiness.ready:
            if not override_reason:
                raise Refused(
                    f"Not ready: {readiness.summary()}. A Go now needs an override with a reason."
                )
            overridden = True
        decision = Decision.objects.create(
            release=release,
            outcome=outcome,
            decided_by=by,
            notes=notes,
            overridden=overridden,
            override_reason=override_reason if overridden else "",
            snapshot=build_snapshot(release),
        )
        if outcome == Decision.Outcome.GO:
            summary = "Go decision recorded"
            if overridden:
                summary += f" OVER {len(readiness.blockers)} blockers – override: {override_reason}"
                release.override_used = True
                release.save(update_fields=["override_used", "updated_at"])
            log_event(
                release,
                actor=by,
                verb="decision_go" if not overridden else "decision_override",
                summary=summary,
                data={"decision": decision.pk, "blockers": [b.message for b in readiness.blockers]},
            )
            release_services.approve_release(release, by=by, summary="Approved for deploy")
        else:
            log_event(
                release,
                actor=by,
                verb="decision_no_go",
                summary=f"No-go decision recorded: {notes}",
                data={"decision": decision.pk},
            )
            release_services.return_to_frozen(
                release, by=by, summary=f"Back to frozen after the No-go: {notes}"
            )
        notify(
            release_services.people_on(release),
            release=release,
            verb="decision",
            message=f"{decision.get_outcome_display()} on {release}"
            + (f" (override: {override_reason})" if overridden else "")
            + (f": {notes}" if notes else ""),
        )
    return decision
