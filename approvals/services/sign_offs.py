"""Sign-offs: recording and withdrawing them, and marking them stale when approved content
changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import CREATOR_SIGNS, ApprovalPolicy, Decision, SignOff
from approvals.readiness import RoleSignOffs, role_states
from approvals.services.deploy import withdraw_approval
from approvals.services.policy import ensure_release_policy
from lib.errors import NotAllowed, Refused
from releases.events import log_event
from releases.models import SIGNING_ROLES, Release, Role, RoleAssignment, Status
from releases.notifications import notify
from releases.services.common import lock_release, people_on

SIGNABLE_STATUSES = (Status.FROZEN, Status.APPROVED)
# A No-go still counts once the deploy has begun: it is recorded and the deciders hear of it
# (the deploy is stopped by a rollback, which is a person's call).
NO_GO_STATUSES = (*SIGNABLE_STATUSES, Status.DEPLOYING)


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
        policy = ensure_release_policy(release)
        if not policy.creator_may_sign(release, by):
            raise NotAllowed(CREATOR_SIGNS)
        current = list(SignOff.objects.current().filter(release=release).select_related("user"))
        second_role = policy.second_role_refusal(by, role, current)
        if second_role:
            raise NotAllowed(second_role)
        now = timezone.now()
        complete_before = _all_signed(role_states(release, current, now=now))
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
        if not complete_before and _all_signed(role_states(release, after, now=now)):
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
        _withdraw_lapsed_approval(
            release, ensure_release_policy(release), by=by, now=sign_off.withdrawn_at
        )
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
    states = role_states(release, current, now=now)
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
    reasons: list[str] = []
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
                release, ensure_release_policy(release), by="scheduler", now=now
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
