"""Reminders to the people whose sign-off a release still waits for."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from approvals.models import ApprovalPolicy, Reminder, SignOff
from approvals.readiness import RoleSignOffs, role_states
from approvals.services.policy import ensure_release_policy
from releases.events import log_event
from releases.models import Release, Role, RoleAssignment, Status
from releases.notifications import notify
from releases.services.common import lock_release, release_managers


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
        policy = ensure_release_policy(release)
        if now < due - dt.timedelta(hours=policy.reminder_hours_before):
            return 0
        current = list(SignOff.objects.current().filter(release=release).select_related("user"))
        missing = [s for s in role_states(release, current, now=now) if s.state != "go"]
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
