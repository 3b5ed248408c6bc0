"""Transitions that need the readiness gate: starting the deploy (with its guards and
overrides), withdrawing an approval whose Go no longer holds, and assigning a role under the
approval policy's self-assignment rule.

``start_deploy`` is the one way into ``deploying``: the release page, the API and CI's deploy
reports (through ``releases.signals.deploy_start_requested``) all come here, and readiness is
recomputed under the release row lock every time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.readiness import Blocker, Readiness, policy_for, readiness_for, required_roles
from lib.errors import NotAllowed, Refused
from releases import access as rules
from releases.events import Actor, log_event
from releases.models import ProjectMembership, Release, Role, RoleAssignment, Status
from releases.notifications import notify
from releases.services.common import (
    is_release_manager,
    lock_release,
    refuse_unless,
    release_managers,
    standby_roster,
    transition,
)
from releases.services.freeze_windows import freeze_windows_at
from releases.services.roles import ask_for_go_no_go


def withdraw_approval(
    release: Release, *, by: Actor, reason: str, tell: Iterable[Any] | None = None
) -> None:
    """approved → frozen because the Go no longer holds; the deciders are told.

    Called inside the transaction of whatever made the Go lapse, with the release row locked.
    """
    if release.status != Status.APPROVED:
        return
    transition(
        release,
        Status.FROZEN,
        by=by,
        verb="approval_withdrawn",
        summary=f"Back to frozen: the go decision no longer holds because {reason}.",
        data={"reason": reason},
    )
    notify(
        list(tell) if tell is not None else release_managers(release),
        release=release,
        verb="approval_withdrawn",
        message=f"The Go on {release} is withdrawn because {reason}; it is frozen again and "
        "needs a new go/no-go.",
        exclude=by,
    )


def deploy_window_problem(release: Release, now: dt.datetime) -> str | None:
    """Why ``now`` is outside the release's planned deploy window, to the minute; or None."""
    start, end = release.deploy_window_start, release.deploy_window_end
    zone = release.project.zone()
    where = release.project.time_zone

    def at(moment: dt.datetime) -> str:
        return f"{moment.astimezone(zone):%a %d %b %Y %H:%M} {where}"

    if start and now < start:
        return f"the deploy window opens at {at(start)}"
    if end and now >= end:
        return f"the deploy window closed at {at(end)}"
    return None


def _covered_by_the_go(release: Release) -> set[str]:
    """The blockers the Go decision was recorded over, with its override: the deploy does not
    ask to break the same glass twice. Anything new since needs its own override."""
    if release.status != Status.APPROVED:
        return set()
    go = release.decisions.filter(outcome="go").order_by("-decided_at", "-pk").first()
    override = (go.snapshot or {}).get("override") if go is not None else None
    return {b["message"] for b in (override or {}).get("blockers", [])}


def deploy_blockers(
    release: Release, *, now: dt.datetime, readiness: Readiness | None = None
) -> list[Blocker]:
    """Everything that stands between an approved release and its deploy at ``now``: the
    readiness (computed afresh, less what the Go already overrode), freeze windows in force and
    the deploy window."""
    covered = _covered_by_the_go(release)
    readiness = readiness or readiness_for(release, now=now)
    blockers = [b for b in readiness.blockers if b.message not in covered]
    for window in freeze_windows_at(release.project, now):
        blockers.append(
            Blocker(
                "freeze",
                f"a freeze window is in force ({window.reason}, {window.describe()})",
                "plan",
            )
        )
    problem = deploy_window_problem(release, now)
    if problem:
        blockers.append(Blocker("deploy_window", problem, "plan"))
    return blockers


def who_may_override(release: Release, blockers: list[Blocker]) -> str:
    """'A release manager' or 'An administrator': who can break glass over these blockers."""
    policy = policy_for(release.project)
    if any(policy.override_by(str(b.override_category)) == "administrators" for b in blockers):
        return "An administrator"
    return "A release manager"


def guard_override(
    release: Release, blockers: list[Blocker], *, by: Actor, reason: str, action: str
) -> None:
    """Refuse to ``action`` over ``blockers`` unless the approval policy lets ``by`` override
    every one of them and ``by`` gave a reason. Nothing to override: nothing to refuse."""
    if not blockers:
        return
    problems = "; ".join(b.message for b in blockers)
    categories = list(dict.fromkeys(str(b.override_category) for b in blockers))
    refusal = policy_for(release.project).override_refusal(
        categories,
        is_admin=bool(getattr(by, "is_superuser", False)),
        is_release_manager=is_release_manager(release, by),
    )
    if refusal is not None and not refusal[1]:
        raise Refused(f"Cannot {action} now: {problems}. {refusal[0]}")
    if not reason:
        raise Refused(
            f"Cannot {action} now: {problems}. {who_may_override(release, blockers)} can "
            "override with a reason."
        )
    if refusal is not None:
        raise NotAllowed(f"{refusal[0]} Standing in the way: {problems}.")


def start_deploy(release: Release, *, by: Actor, override_reason: str = "") -> Release:
    """approved → deploying, only while the release is still ready (computed afresh under the
    row lock, so a No-go committed first always wins), inside its deploy window and outside
    freeze windows — unless someone the approval policy allows overrides with a reason
    (recorded on the event, flagged on the release for good, announced)."""
    rules.check_person(rules.START_DEPLOY, by, release)
    override_reason = override_reason.strip()
    with transaction.atomic():
        release = lock_release(release)
        refuse_unless(release, Status.DEPLOYING, "start the deploy")
        now = timezone.now()
        blockers = deploy_blockers(release, now=now)
        guard_override(release, blockers, by=by, reason=override_reason, action="start the deploy")
        problems = [b.message for b in blockers]
        data = (
            {
                "override_reason": override_reason,
                "overridden": problems,
                "override_categories": list(
                    dict.fromkeys(str(b.override_category) for b in blockers)
                ),
                "freeze_windows": [window.pk for window in freeze_windows_at(release.project, now)],
            }
            if problems
            else {}
        )
        summary = "Deploy started"
        extra = []
        if problems:
            summary += f" with an override ({override_reason}) of: " + "; ".join(problems)
            release.override_used = True
            extra = ["override_used"]
        transition(
            release,
            Status.DEPLOYING,
            by=by,
            verb="deploy_started",
            summary=summary,
            stamp="deploy_started_at",
            data=data,
            extra_fields=extra,
        )
        announce_deploy_started(release, by=by, problems=problems, reason=override_reason)
    return release


def announce_deploy_started(
    release: Release, *, by: Actor, problems: list[str], reason: str
) -> None:
    """Tell the standby roster the deploy started, and the release managers when it
    overrode ``problems`` (with ``reason``)."""
    notify(
        standby_roster(release),
        release=release,
        verb="deploy_started",
        message=f"Deploy of {release} started. You are on the standby roster.",
    )
    if problems:
        notify(
            release_managers(release),
            release=release,
            verb="override_used",
            message=f"{by} started the deploy of {release} with an override "
            f"({reason}) of: " + "; ".join(problems),
            exclude=by,
        )


def assign_role(release: Release, user: Any, role: str, *, by: Actor) -> RoleAssignment:
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused("The release is finished; its roles can no longer change.")
        if not ProjectMembership.objects.filter(project=release.project, user=user).exists():
            raise ValidationError({"user": f"{user} is not a member of {release.project}."})
        policy = policy_for(release.project)
        required = role in required_roles(release)[0]
        if not policy.may_assign_self(release, by=by, user=user, required=required):
            raise NotAllowed(policy.self_assignment_refusal(Role(role).label))
        assignment, created = RoleAssignment.objects.get_or_create(
            release=release, user=user, role=role
        )
        if created:
            log_event(
                release,
                actor=by,
                verb="role_assigned",
                summary=f"{user} assigned as {assignment.get_role_display()}",
                data={"user": user.pk, "role": role},
            )
            # Joining a poll that is already open: asked like those assigned when it opened.
            if (
                release.poll_opened_at
                and release.status == Status.FROZEN
                and role in required_roles(release)[0]
            ):
                ask_for_go_no_go(release, [user])
    return assignment
