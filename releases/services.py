"""Every operation that changes a release.

Each service has the same shape: guard → ``transaction.atomic()`` with the release row locked →
change → ``log_event`` → side effects with ``transaction.on_commit``. Who may call what is decided
by ``releases.permissions`` before the call; the services guard the release's state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from lib import outbound
from lib.links import validate_link
from releases import permissions as rules
from releases import signals
from releases.errors import NotAllowed, Refused
from releases.events import Actor, log_event, log_project_change, log_project_event, snapshot
from releases.models import (
    COMMIT_SHA_MESSAGE,
    ApiToken,
    ChecklistItem,
    ChecklistTemplate,
    FreezeWindow,
    Health,
    Phase,
    Project,
    ProjectEventKind,
    ProjectMembership,
    Release,
    ReleaseEvent,
    Review,
    ReviewAction,
    Role,
    RoleAssignment,
    RollbackPlan,
    ScopeChangeRequest,
    ScopeItem,
    Status,
    clean_commit_sha,
)
from releases.notifications import notify
from releases.readiness import Blocker, Readiness, policy_for, readiness_for, required_roles

User = get_user_model()


# --- helpers --------------------------------------------------------------------------------


def lock_release(release: Release) -> Release:
    """Re-read the release under a row lock; callers continue with the fresh copy.

    Every change to a release takes this lock first, so concurrent requests on one release run
    one after the other and each re-checks the state the previous one left.
    """
    return Release.objects.select_for_update().select_related("project").get(pk=release.pk)


def _refuse_unless(release: Release, target: str, action: str) -> None:
    if not release.can_transition_to(target):
        raise Refused(f"Cannot {action}: the release is {release.get_status_display().lower()}.")


def _transition(
    release: Release,
    target: str,
    *,
    by: Actor,
    verb: str,
    summary: str,
    stamp: str | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: Iterable[str] = (),
) -> ReleaseEvent:
    old = release.status
    release.status = target
    fields = ["status", "updated_at", *extra_fields]
    if stamp:
        setattr(release, stamp, timezone.now())
        fields.append(stamp)
    release.save(update_fields=fields)
    event = log_event(
        release,
        actor=by,
        verb=verb,
        summary=summary,
        before={"status": old},
        after={"status": target},
        data=data,
    )
    signals.status_changed.send(
        sender=Release, release=release, old=old, new=target, actor=by, event=event
    )
    return event


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    out = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif hasattr(value, "pk"):
            value = str(value)
        out[name] = value
    return out


def reject_unknown_fields(given: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """A caller naming a field the service does not take is a programming error, not bad input."""
    unknown = set(given) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


# Fields that hold a link to another site, drawn as a link on pages: http(s) only. Those that
# Greenlight itself calls are also held to the egress policy as far as the URL alone tells (a
# loopback or private address); lib.outbound checks again where it connects.
LINK_FIELDS = ("url", "evidence_url", "repository_url", "slack_webhook_url", "rollback_webhook_url")
CALLED_FIELDS = ("slack_webhook_url", "rollback_webhook_url")


def check_links(values: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming each link field whose value is not acceptable."""
    errors: dict[str, list[str]] = {}
    for name in LINK_FIELDS:
        value = values.get(name)
        if not value:
            continue
        try:
            validate_link(str(value))
            if name in CALLED_FIELDS:
                outbound.check_url(str(value))
        except ValidationError as exc:
            errors[name] = exc.messages
        except outbound.OutboundError as exc:
            errors[name] = [exc.message]
    if errors:
        raise ValidationError(errors)


def _apply_changes(obj: Any, changes: dict[str, Any]) -> tuple[dict, dict, list[str]]:
    """Set the fields that actually change; return (before, after, changed field names)."""
    check_links(changes)
    changed = [name for name, value in changes.items() if getattr(obj, name) != value]
    before = _snapshot(obj, changed)
    for name in changed:
        setattr(obj, name, changes[name])
    return before, _snapshot(obj, changed), changed


def people_on(release: Release, roles: Iterable[str] | None = None) -> list[Any]:
    assignments = release.assignments.select_related("user")
    if roles is not None:
        assignments = assignments.filter(role__in=list(roles))
    seen: dict[int, Any] = {}
    for assignment in assignments:
        seen.setdefault(assignment.user_id, assignment.user)
    return list(seen.values())


def release_managers(release: Release) -> list[Any]:
    """The release's release managers and the project's: who hears of overrides and escalations."""
    people = {user.pk: user for user in people_on(release, roles=(Role.RELEASE_MANAGER,))}
    for membership in ProjectMembership.objects.filter(
        project_id=release.project_id, role=Role.RELEASE_MANAGER
    ).select_related("user"):
        people.setdefault(membership.user_id, membership.user)
    return list(people.values())


def withdraw_approval(
    release: Release, *, by: Actor, reason: str, tell: Iterable[Any] | None = None
) -> None:
    """approved → frozen because the Go no longer holds; the deciders are told.

    Called inside the transaction of whatever made the Go lapse, with the release row locked.
    """
    if release.status != Status.APPROVED:
        return
    _transition(
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


def _content_changed(release: Release, *, reason: str, event: ReleaseEvent, by: Actor) -> None:
    """What people approved has changed: sign-offs go stale, an approval is withdrawn."""
    signals.approved_content_changed.send(
        sender=Release, release=release, reason=reason, event=event, actor=by
    )
    withdraw_approval(release, by=by, reason=reason)


# --- projects -------------------------------------------------------------------------------


def create_project(*, name: str, slug: str, by: Any, description: str = "") -> Project:
    with transaction.atomic():
        try:
            with transaction.atomic():
                project = Project.objects.create(name=name, slug=slug, description=description)
        except IntegrityError as exc:
            raise ValidationError({"slug": "A project with this short name exists."}) from exc
        if by is not None and getattr(by, "is_authenticated", False):
            ProjectMembership.objects.create(project=project, user=by, role="release_manager")
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.PROJECT,
            action="added",
            summary=f"Project “{project}” created",
            after=snapshot(project),
        )
        signals.project_created.send(sender=Project, project=project)
    return project


def set_project_roles(project: Project, user: Any, roles: Iterable[str], *, by: Any) -> None:
    """Make ``roles`` exactly the user's roles on the project (empty: remove the member)."""
    roles = set(roles)
    with transaction.atomic():
        current = set(
            ProjectMembership.objects.filter(project=project, user=user).values_list(
                "role", flat=True
            )
        )
        ProjectMembership.objects.filter(
            project=project, user=user, role__in=current - roles
        ).delete()
        ProjectMembership.objects.bulk_create(
            [ProjectMembership(project=project, user=user, role=r) for r in roles - current],
            ignore_conflicts=True,
        )
        if roles != current:
            _log_roles(project, user, sorted(current), sorted(roles), by=by)


def _log_roles(
    project: Project, user: Any, before: list[str], after: list[str], *, by: Any
) -> None:
    action = "added" if not before else "removed" if not after else "changed"
    labels = dict(Role.choices)
    names = ", ".join(str(labels.get(role, role)) for role in after) or "no role"
    log_project_event(
        project,
        actor=by,
        kind=ProjectEventKind.MEMBERSHIP,
        action=action,
        summary=(
            f"{user} removed from the project"
            if action == "removed"
            else f"{user} {'added as' if action == 'added' else 'now'}: {names}"
        ),
        before={"roles": before} if before else None,
        after={"roles": after} if after else None,
        data={"user": user.pk, "username": user.get_username()},
    )


PROJECT_FIELDS = (
    "name",
    "time_zone",
    "description",
    "repository_url",
    "monitoring_minutes_standard",
    "monitoring_minutes_hotfix",
    "monitoring_minutes_major",
    "slack_webhook_url",
)


def update_project(project: Project, *, by: Any, **changes: Any) -> Project:
    reject_unknown_fields(changes, PROJECT_FIELDS, "project")
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        _before, _after, changed = _apply_changes(project, changes)
        if changed:
            project.full_clean(exclude=["slug"])
            log_project_change(project, actor=by, kind=ProjectEventKind.PROJECT, row=project)
            project.save(update_fields=changed)
    return project


ENVIRONMENT_NAME_LENGTH = 60


def set_deploy_environments(project: Project, *, by: Any, mapping: dict[str, str]) -> Project:
    """Replace the project's mapping of CI environment names to release environments.

    ``mapping`` is {CI name: release environment}; an empty environment means deploys there
    are never a release's. Names are matched without regard to case.
    """
    cleaned: dict[str, str] = {}
    problems: list[str] = []
    for raw_name, raw_target in mapping.items():
        name, target = str(raw_name).strip().lower(), str(raw_target or "").strip().lower()
        if not name:
            problems.append("Every line needs CI's environment name before “=”.")
        elif len(name) > ENVIRONMENT_NAME_LENGTH or len(target) > ENVIRONMENT_NAME_LENGTH:
            problems.append(f"“{name[:20]}…”: use at most {ENVIRONMENT_NAME_LENGTH} characters.")
        elif name in cleaned:
            problems.append(f"“{name}” is listed twice.")
        else:
            cleaned[name] = target
    if problems:
        raise ValidationError({"deploy_environments": problems})
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.deploy_environments != cleaned:
            project.deploy_environments = dict(sorted(cleaned.items()))
            log_project_change(project, actor=by, kind=ProjectEventKind.PROJECT, row=project)
            project.save(update_fields=["deploy_environments"])
    return project


def _save_project_row(
    project: Project, row: Any, fields: dict[str, Any], what: str, *, by: Any, kind: str
) -> Any:
    """Create or change a row the project owns (a checklist template item, a freeze window)."""
    if row.pk is None:
        row.project = project
    elif row.project_id != project.pk:
        raise NotAllowed(f"That {what} belongs to another project.")
    for name, value in fields.items():
        setattr(row, name, value)
    with transaction.atomic():
        row.full_clean(exclude=["project"])
        log_project_change(project, actor=by, kind=kind, row=row)
        row.save()
    return row


def _delete_project_row(row: Any, *, by: Any, kind: str) -> None:
    with transaction.atomic():
        log_project_change(row.project, actor=by, kind=kind, row=row, removed=True)
        row.delete()


TEMPLATE_FIELDS = (
    "phase",
    "title",
    "help_text",
    "owner_role",
    "required",
    "for_standard",
    "for_hotfix",
    "for_major",
    "position",
)


def save_checklist_template(
    project: Project, *, by: Any, template: ChecklistTemplate | None = None, **fields: Any
) -> ChecklistTemplate:
    """Create a checklist template item, or change one; releases created later get the copy."""
    reject_unknown_fields(fields, TEMPLATE_FIELDS, "checklist template")
    if "title" in fields and not str(fields["title"]).strip():
        raise ValidationError({"title": "A checklist item needs a title."})
    return _save_project_row(
        project,
        template or ChecklistTemplate(),
        fields,
        "checklist item",
        by=by,
        kind=ProjectEventKind.CHECKLIST_TEMPLATE,
    )


def delete_checklist_template(template: ChecklistTemplate, *, by: Any) -> None:
    """Existing releases keep their copies; only future releases lose the item."""
    _delete_project_row(template, by=by, kind=ProjectEventKind.CHECKLIST_TEMPLATE)


FREEZE_FIELDS = (
    "reason",
    "recurrence",
    "starts_at",
    "ends_at",
    "start_weekday",
    "start_time",
    "end_weekday",
    "end_time",
    "timezone",
)


def save_freeze_window(
    project: Project, *, by: Any, window: FreezeWindow | None = None, **fields: Any
) -> FreezeWindow:
    reject_unknown_fields(fields, FREEZE_FIELDS, "freeze window")
    if "reason" in fields and not str(fields["reason"]).strip():
        raise ValidationError({"reason": "Say why deploys are frozen."})
    return _save_project_row(
        project,
        window or FreezeWindow(),
        fields,
        "freeze window",
        by=by,
        kind=ProjectEventKind.FREEZE_WINDOW,
    )


def delete_freeze_window(window: FreezeWindow, *, by: Any) -> None:
    _delete_project_row(window, by=by, kind=ProjectEventKind.FREEZE_WINDOW)


# --- releases -------------------------------------------------------------------------------

RELEASE_EDITABLE_FIELDS = (
    "title",
    "kind",
    "git_ref",
    "commit_sha",
    "environment",
    "code_freeze_at",
    "go_no_go_at",
    "deploy_window_start",
    "deploy_window_end",
    "monitoring_ends_at",
)


def _validate_plan(values: dict[str, Any]) -> None:
    errors = {}
    start, end = values.get("deploy_window_start"), values.get("deploy_window_end")
    if start and end and end <= start:
        errors["deploy_window_end"] = "The deploy window must end after it starts."
    freeze, go = values.get("code_freeze_at"), values.get("go_no_go_at")
    if freeze and go and go < freeze:
        errors["go_no_go_at"] = "The go/no-go cannot come before the code freeze."
    if go and start and start < go:
        errors["deploy_window_start"] = "The deploy window cannot open before the go/no-go."
    monitoring = values.get("monitoring_ends_at")
    if monitoring and (end or start) and monitoring < (end or start):
        errors["monitoring_ends_at"] = "Monitoring cannot end before the deploy window."
    if errors:
        raise ValidationError(errors)


def create_release(project: Project, *, by: Actor, version: str, **fields: Any) -> Release:
    reject_unknown_fields(fields, RELEASE_EDITABLE_FIELDS, "release")
    version = version.strip()
    if not version:
        raise ValidationError({"version": "A release needs a version."})
    if "commit_sha" in fields:
        fields["commit_sha"] = _clean_sha(fields["commit_sha"])
    _validate_plan(fields)
    with transaction.atomic():
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    project=project,
                    version=version,
                    created_by=by if isinstance(by, User) else None,
                    **fields,
                )
        except IntegrityError as exc:
            raise ValidationError(
                {"version": f"{project.name} already has a release {version}."}
            ) from exc
        RoleAssignment.objects.bulk_create(
            [
                RoleAssignment(release=release, user_id=user_id, role=role)
                for user_id, role in ProjectMembership.objects.filter(project=project).values_list(
                    "user_id", "role"
                )
            ]
        )
        ChecklistItem.objects.bulk_create(
            [
                ChecklistItem(
                    release=release,
                    template=template,
                    phase=template.phase,
                    title=template.title,
                    help_text=template.help_text,
                    owner_role=template.owner_role,
                    required=template.required,
                    position=template.position,
                )
                for template in ChecklistTemplate.objects.filter(project=project)
                if template.applies_to(release.kind)
            ]
        )
        RollbackPlan.objects.create(release=release)
        event = log_event(
            release,
            actor=by,
            verb="release_created",
            summary=f"Release {version} ({release.get_kind_display().lower()}) created",
            after=_snapshot(release, ["version", "kind", *fields]),
        )
        signals.release_created.send(sender=Release, release=release, actor=by, event=event)
    return release


def _clean_sha(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError({"commit_sha": COMMIT_SHA_MESSAGE})
    try:
        return clean_commit_sha(value)
    except ValidationError as exc:
        raise ValidationError({"commit_sha": exc.messages}) from exc


def update_release(release: Release, *, by: Actor, **changes: Any) -> Release:
    """Change the plan of a release. A commit set for the first time, or changed, makes every
    sign-off given before it stale (they approved something else) and withdraws a Go."""
    reject_unknown_fields(changes, RELEASE_EDITABLE_FIELDS, "release")
    if "commit_sha" in changes:
        changes["commit_sha"] = _clean_sha(changes["commit_sha"])
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused(f"Cannot edit the release: it is {release.get_status_display().lower()}.")
        if "kind" in changes and changes["kind"] != release.kind and release.scope_locked:
            raise Refused("Cannot change the kind of a release after its scope is locked.")
        _validate_plan({name: getattr(release, name) for name in RELEASE_EDITABLE_FIELDS} | changes)
        old_sha = release.commit_sha
        before, after, changed = _apply_changes(release, changes)
        if not changed:
            return release
        release.save(update_fields=[*changed, "updated_at"])
        event = log_event(
            release,
            actor=by,
            verb="release_updated",
            summary="Changed " + ", ".join(name.replace("_", " ") for name in changed),
            before=before,
            after=after,
        )
        if "commit_sha" in changed:
            signals.commit_changed.send(
                sender=Release,
                release=release,
                old_sha=old_sha,
                new_sha=release.commit_sha,
                actor=by,
                event=event,
            )
            if old_sha and release.commit_sha:
                reason = f"the commit changed from {old_sha[:10]} to {release.commit_sha[:10]}"
            elif release.commit_sha:
                reason = f"the commit was set to {release.commit_sha[:10]}"
            else:
                reason = f"the commit {old_sha[:10]} was removed"
            _content_changed(release, reason=reason, event=event, by=by)
    return release


def lock_scope(release: Release, *, by: Actor) -> Release:
    rules.check_person(rules.LOCK_SCOPE, by, release)
    with transaction.atomic():
        release = lock_release(release)
        _refuse_unless(release, Status.FROZEN, "lock the scope")
        if not release.scope_items.filter(state=ScopeItem.State.INCLUDED).exists():
            raise Refused("Cannot lock the scope: it is empty. Add at least one scope item first.")
        pending = release.change_requests.filter(state=ScopeChangeRequest.State.PENDING).count()
        if pending:
            raise Refused(f"Cannot lock the scope: {_count(pending, 'change request')} still open.")
        _transition(
            release,
            Status.FROZEN,
            by=by,
            verb="scope_locked",
            summary="Scope locked: changes now go through change requests",
            stamp="frozen_at",
        )
    return release


def cancel_release(release: Release, *, by: Actor, reason: str) -> Release:
    rules.check_person(rules.CANCEL, by, release)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the release is cancelled."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                "Cannot cancel a release that is already being deployed: roll it back instead."
            )
        _refuse_unless(release, Status.CANCELLED, "cancel the release")
        _transition(
            release,
            Status.CANCELLED,
            by=by,
            verb="cancelled",
            summary=f"Release cancelled: {reason}",
            stamp="cancelled_at",
            data={"reason": reason},
        )
        notify(
            people_on(release),
            release=release,
            verb="cancelled",
            message=f"{release} was cancelled: {reason}",
        )
    return release


def approve_release(release: Release, *, by: Actor, summary: str) -> Release:
    """frozen → approved; called by the go decision (approvals.services.decisions) inside its
    transaction."""
    with transaction.atomic():
        release = lock_release(release)
        _refuse_unless(release, Status.APPROVED, "approve the release")
        _transition(
            release, Status.APPROVED, by=by, verb="approved", summary=summary, stamp="approved_at"
        )
    return release


def return_to_frozen(release: Release, *, by: Actor, summary: str) -> Release:
    """approved → frozen after a no-go; a frozen release simply stays frozen."""
    with transaction.atomic():
        release = lock_release(release)
        if release.status == Status.FROZEN:
            return release
        _refuse_unless(release, Status.FROZEN, "return the release to frozen")
        _transition(release, Status.FROZEN, by=by, verb="returned_to_frozen", summary=summary)
    return release


@dataclass(frozen=True)
class FreezePeriod:
    """One occurrence of a freeze window: a one-off window, or one week of a weekly one."""

    window: FreezeWindow
    starts_at: dt.datetime
    ends_at: dt.datetime

    @property
    def reason(self) -> str:
        return self.window.reason

    def describe(self) -> str:
        return f"{self.window.reason} ({self.window.describe()})"


def freeze_windows_overlapping(
    project: Project, start: dt.datetime, end: dt.datetime
) -> list[FreezePeriod]:
    """Every freeze period of the project that overlaps [start, end), earliest first.

    For the timeline and the release page. Reads ``project.freeze_windows.all()``, so prefetch
    ``freeze_windows`` when asking for many projects.
    """
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    periods = [
        FreezePeriod(window=window, starts_at=opens, ends_at=closes)
        for window in project.freeze_windows.all()
        for opens, closes in window.occurrences(start, end)
    ]
    return sorted(periods, key=lambda p: (p.starts_at, p.ends_at, p.window.pk))


def freeze_windows_for_release(release: Release) -> list[FreezePeriod]:
    """The freeze periods the release's planned deploy window runs into (none if unplanned)."""
    start = release.deploy_window_start
    if start is None:
        return []
    end = release.deploy_window_end
    if end is None or end <= start:
        end = start + dt.timedelta(microseconds=1)
    return freeze_windows_overlapping(release.project, start, end)


def freeze_windows_at(project: Project, moment: dt.datetime) -> list[FreezeWindow]:
    """The freeze windows in force at ``moment``."""
    periods = freeze_windows_overlapping(project, moment, moment + dt.timedelta(microseconds=1))
    return list({p.window.pk: p.window for p in periods}.values())


def is_release_manager(release: Release, user: Actor) -> bool:
    """Assigned as release manager on the release, or one of the project's release managers."""
    if not isinstance(user, User):
        return False
    if user.is_superuser:
        return True
    return (
        RoleAssignment.objects.filter(
            release=release, user=user, role=Role.RELEASE_MANAGER
        ).exists()
        or ProjectMembership.objects.filter(
            project_id=release.project_id, user=user, role=Role.RELEASE_MANAGER
        ).exists()
    )


def standby_roster(release: Release) -> list[Any]:
    """Who stands by while the release is deployed and watched: its developers, DevOps and
    release managers, and whoever the rollback plan names to make the call."""
    people = {
        user.pk: user for user in people_on(release, roles=("dev", "devops", "release_manager"))
    }
    plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
    if plan is not None and plan.decider is not None:
        people.setdefault(plan.decider.pk, plan.decider)
    return list(people.values())


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
        _refuse_unless(release, Status.DEPLOYING, "start the deploy")
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
        _transition(
            release,
            Status.DEPLOYING,
            by=by,
            verb="deploy_started",
            summary=summary,
            stamp="deploy_started_at",
            data=data,
            extra_fields=extra,
        )
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
                f"({override_reason}) of: " + "; ".join(problems),
                exclude=by,
            )
    return release


def finish_deploy(release: Release, *, by: Actor) -> Release:
    """deploying → monitoring: every required deployment checklist item must be ticked."""
    rules.check_person(rules.FINISH_DEPLOY, by, release)
    with transaction.atomic():
        release = lock_release(release)
        _refuse_unless(release, Status.MONITORING, "mark the deploy done")
        open_items = list(
            release.checklist_items.filter(
                phase=Phase.DEPLOYMENT, required=True, ticked_at__isnull=True
            ).values_list("title", flat=True)
        )
        if open_items:
            count = _count(len(open_items), "required deployment checklist item")
            raise Refused(
                f"Cannot mark the deploy done: {count} not ticked: {', '.join(open_items)}."
            )
        release.monitoring_until = timezone.now() + release.project.monitoring_window(release.kind)
        # A release that turned unhealthy while deploying (a failed step, a breached check)
        # stays unhealthy: finishing the deploy does not make it well.
        if release.health != Health.UNHEALTHY:
            release.health = Health.HEALTHY
        window = release.project.monitoring_window(release.kind)
        _transition(
            release,
            Status.MONITORING,
            by=by,
            verb="deploy_finished",
            summary=f"Deploy done; watching health for {_minutes(window)}",
            stamp="deploy_finished_at",
            extra_fields=["monitoring_until", "health"],
        )
    return release


def mark_health(release: Release, health: str, *, by: Actor, reason: str) -> Release:
    """Record the release's health during the monitoring window.

    Turning unhealthy tells everyone on the release and the rollback decider at once, with the
    plan's revert steps in the message: rolling back is a decision made in seconds.
    """
    with transaction.atomic():
        release = lock_release(release)
        if release.health == health:
            return release
        old = release.health
        release.health = health
        fields = ["health", "updated_at"]
        if health == Health.UNHEALTHY:
            release.unhealthy_since = timezone.now()
            release.unhealthy_reason = reason[:300]
            fields += ["unhealthy_since", "unhealthy_reason"]
        elif release.rollback_recommended_at is not None and release.is_active:
            # Healthy again: a standing recommendation to roll back no longer holds (the event
            # log keeps it).
            release.rollback_recommended_at = None
            release.rollback_recommendation = ""
            fields += ["rollback_recommended_at", "rollback_recommendation"]
        release.save(update_fields=fields)
        log_event(
            release,
            actor=by,
            verb="health_changed",
            summary=f"Health {Health(health).label.lower()}: {reason}",
            before={"health": old},
            after={"health": health},
        )
        if health == Health.UNHEALTHY:
            plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
            steps = plan.revert_steps.strip() if plan else ""
            decider = plan.decider if plan else None
            message = f"{release} is UNHEALTHY: {reason}."
            if decider is not None:
                message += f" {decider.get_full_name() or decider} decides on a rollback."
            if steps:
                message += f"\n\nRevert steps:\n{steps}"
            notify(
                [*people_on(release), decider],
                release=release,
                verb="unhealthy",
                message=message,
            )
    return release


def recommend_rollback(release: Release, *, by: Actor, reason: str) -> Release:
    """A rollback trigger in "recommend" mode fired: the release page offers the rollback in one
    click, and the rollback plan's decider is told at once with the revert steps."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why a rollback is recommended."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                f"A rollback is recommended while deploying or monitoring; the release is "
                f"{release.get_status_display().lower()}."
            )
        before = {"rollback_recommendation": release.rollback_recommendation}
        # The first recommendation's time stays: how long the call took is part of the review.
        release.rollback_recommended_at = release.rollback_recommended_at or timezone.now()
        release.rollback_recommendation = reason[:300]
        release.save(
            update_fields=["rollback_recommended_at", "rollback_recommendation", "updated_at"]
        )
        log_event(
            release,
            actor=by,
            verb="rollback_recommended",
            summary=f"Rollback recommended: {reason}",
            before=before,
            after={"rollback_recommendation": release.rollback_recommendation},
        )
        plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
        recipients = [plan.decider] if plan and plan.decider else release_managers(release)
        message = (
            f"Rollback recommended for {release}: {reason}. You make the call: the release page "
            "rolls it back in one click."
        )
        steps = plan.revert_steps.strip() if plan else ""
        if steps:
            message += f"\n\nRevert steps:\n{steps}"
        notify(recipients, release=release, verb="rollback_recommended", message=message)
    return release


def complete_release(release: Release, *, by: Actor) -> Release:
    """monitoring → released once the window has passed without the release turning unhealthy.

    The transition only: whether the post-release checks allow it is decided on top of this
    (``monitoring.services.health.release_if_healthy``), which is what people and beat go
    through."""
    with transaction.atomic():
        release = lock_release(release)
        _refuse_unless(release, Status.RELEASED, "mark the release released")
        if release.health == Health.UNHEALTHY:
            raise Refused(
                "Cannot mark the release released: it is unhealthy. Roll it back or resolve "
                "the failing health checks first."
            )
        now = timezone.now()
        if release.monitoring_until and now < release.monitoring_until:
            left = release.monitoring_until - now
            raise Refused(
                f"Cannot mark the release released: the monitoring window has "
                f"{_minutes(left)} left."
            )
        _transition(
            release,
            Status.RELEASED,
            by=by,
            verb="released",
            summary="Released: the monitoring window passed healthy",
            stamp="released_at",
        )
        notify(
            people_on(release),
            release=release,
            verb="review_due",
            message=f"{release} is released. What went well, what broke, what caused stress? "
            "Write the post-release review while it is fresh.",
        )
    return release


def roll_back(release: Release, *, by: Actor, reason: str, automatic: bool = False) -> Release:
    """deploying/monitoring → rolled_back: records who decided, why and when it started."""
    rules.check_person(rules.ROLL_BACK, by, release)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the release is rolled back."})
    with transaction.atomic():
        release = lock_release(release)
        _refuse_unless(release, Status.ROLLED_BACK, "roll back")
        release.rollback_reason = reason
        release.rollback_decided_by = by if isinstance(by, User) else None
        release.rollback_automatic = automatic
        _transition(
            release,
            Status.ROLLED_BACK,
            by=by,
            verb="rolled_back",
            summary=("Automatic rollback started: " if automatic else "Rolled back: ") + reason,
            stamp="rolled_back_at",
            data={"reason": reason, "automatic": automatic},
            extra_fields=["rollback_reason", "rollback_decided_by", "rollback_automatic"],
        )
        notify(
            people_on(release),
            release=release,
            verb="rolled_back",
            message=f"{release} is being rolled back"
            + (" automatically" if automatic else "")
            + f": {reason}. Please write the post-release review once it is done.",
        )
    return release


def finish_rollback(release: Release, *, by: Actor, at: dt.datetime | None = None) -> Release:
    """The rollback is done (reported by CI or by hand); time to restore is measured to here."""
    rules.check_person(rules.FINISH_ROLLBACK, by, release)
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.ROLLED_BACK:
            raise Refused(
                f"Only a rolled-back release finishes a rollback; this one is "
                f"{release.get_status_display().lower()}."
            )
        if release.rollback_finished_at:
            finished = release.rollback_finished_at
            raise Refused(f"The rollback already finished at {finished:%Y-%m-%d %H:%M} UTC.")
        finished = at or timezone.now()
        if finished < release.rolled_back_at:
            raise ValidationError({"at": "The rollback cannot finish before it started."})
        release.rollback_finished_at = finished
        release.save(update_fields=["rollback_finished_at", "updated_at"])
        restore = release_time_to_restore(release)
        log_event(
            release,
            actor=by,
            verb="rollback_finished",
            summary="Rollback finished"
            + (f"; service restored {_minutes(restore)} after the failure" if restore else ""),
            data={"time_to_restore_seconds": restore.total_seconds() if restore else None},
        )
    return release


def release_time_to_restore(release: Release) -> dt.timedelta | None:
    """From the failure (unhealthy, else the deploy) until the rollback finished."""
    failed = release.unhealthy_since or release.deploy_finished_at or release.deploy_started_at
    if not (failed and release.rollback_finished_at):
        return None
    return release.rollback_finished_at - failed


DEPLOY_STAGES = ("started", "finished", "failed", "cancelled")


def deploys_to(release: Release, ci_environment: str) -> bool:
    """A deploy CI reports for ``ci_environment`` is this release's, by the project's mapping."""
    target = release.project.environment_for(ci_environment)
    return bool(target) and target == release.environment.strip().lower()


def not_this_environment(ci_environment: str, sha: str) -> str:
    return f"ignored: no release for environment {ci_environment or '(none)'} on commit {sha[:12]}"


def cancel_deploy(release: Release, *, by: Actor, detail: str = "") -> Release:
    """deploying → approved: CI cancelled the deploy before it finished. The approval stands
    (nothing new was decided); the cancelled deploy is kept on the release and in its log."""
    detail = detail.strip()
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.DEPLOYING:
            raise Refused(
                f"Only a deploy under way can be cancelled; the release is "
                f"{release.get_status_display().lower()}."
            )
        started = release.deploy_started_at
        # The deploy that never finished is not a deploy for the metrics: it counts again
        # when the next one starts.
        release.deploy_started_at = None
        _transition(
            release,
            Status.APPROVED,
            by=by,
            verb="deploy_cancelled",
            summary="Deploy cancelled; back to approved" + (f" ({detail})" if detail else ""),
            stamp="deploy_cancelled_at",
            data={"detail": detail, "started_at": started.isoformat() if started else None},
            extra_fields=["deploy_started_at"],
        )
        notify(
            standby_roster(release),
            release=release,
            verb="deploy_cancelled",
            message=f"The deploy of {release} was cancelled; it is approved and not deployed.",
        )
    return release


def record_deploy_report(
    release: Release,
    *,
    by: Actor,
    stage: str,
    detail: str = "",
    override_reason: str = "",
    environment: str = "",
) -> Release:
    """CI reports its deploy: started/finished move the release through the same guards as a
    person would (so a pipeline can use the answer as a gate); failed marks it unhealthy and asks
    the rollback decider to decide; cancelled takes it back to approved.

    A report naming CI's ``environment`` counts only when the project's mapping sends that
    environment to the release's: a staging deploy never moves a production release."""
    if stage not in DEPLOY_STAGES:
        raise ValidationError({"stage": f"Use one of {', '.join(DEPLOY_STAGES)}."})
    detail = detail.strip()
    if environment.strip() and not deploys_to(release, environment):
        raise Refused(
            not_this_environment(environment.strip(), release.commit_sha)
            + f" ({release} deploys to {release.environment})."
        )
    if stage == "cancelled":
        return cancel_deploy(release, by=by, detail=detail)
    if stage == "started":
        return start_deploy(release, by=by, override_reason=override_reason)
    if stage == "finished":
        return finish_deploy(release, by=by)
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.DEPLOYING, Status.MONITORING):
            raise Refused(
                f"A failed deploy is reported while deploying; the release is "
                f"{release.get_status_display().lower()}."
            )
        return mark_health(
            release,
            Health.UNHEALTHY,
            by=by,
            reason="deploy failed" + (f" ({detail})" if detail else ""),
        )


def carry_scope_forward(release: Release, *, by: Any, version: str, **fields: Any) -> Release:
    """After a rollback, start a new release with the same included scope in one action."""
    rules.check_person(rules.CARRY_FORWARD, by, release)
    with transaction.atomic():
        release = lock_release(release)
        if release.status != Status.ROLLED_BACK:
            raise Refused("Scope is carried forward from a rolled-back release.")
        if release.carried_into_id:
            raise Refused(f"The scope was already carried into {release.carried_into}.")
        new = create_release(
            release.project,
            by=by,
            version=version,
            kind=fields.pop("kind", release.kind),
            git_ref=fields.pop("git_ref", release.git_ref),
            environment=fields.pop("environment", release.environment),
            title=fields.pop("title", release.title),
            **fields,
        )
        items = list(release.scope_items.filter(state=ScopeItem.State.INCLUDED))
        ScopeItem.objects.bulk_create(
            [
                ScopeItem(
                    release=new,
                    kind=item.kind,
                    title=item.title,
                    key=item.key,
                    url=item.url,
                    owner_id=item.owner_id,
                    risk=item.risk,
                    merged_at=item.merged_at,
                    created_by=by if isinstance(by, User) else None,
                )
                for item in items
            ]
        )
        release.carried_into = new
        release.save(update_fields=["carried_into", "updated_at"])
        log_event(
            release,
            actor=by,
            verb="scope_carried_forward",
            summary=f"Scope ({len(items)} items) carried into {new.version}",
            data={"release": new.pk},
        )
        log_event(
            new,
            actor=by,
            verb="scope_carried_in",
            summary=f"Scope ({len(items)} items) carried over from rolled-back {release.version}",
            data={"release": release.pk},
        )
    return new


# --- scope ----------------------------------------------------------------------------------

SCOPE_FIELDS = ("kind", "title", "key", "url", "owner", "risk")


def _scope_summary(item: ScopeItem) -> str:
    label = f"{item.key} {item.title}".strip()
    return f"{item.get_kind_display()} “{label}”"


def add_scope_item(release: Release, *, by: Actor, title: str, **fields: Any) -> ScopeItem:
    reject_unknown_fields(fields, SCOPE_FIELDS, "scope")
    if not title.strip():
        raise ValidationError({"title": "A scope item needs a title."})
    check_links(fields)
    with transaction.atomic():
        release = lock_release(release)
        if release.scope_locked:
            raise Refused(
                "The scope is locked: request a change instead, which Product and the release "
                "manager accept or reject."
            )
        item = ScopeItem.objects.create(
            release=release,
            title=title.strip(),
            created_by=by if isinstance(by, User) else None,
            **fields,
        )
        log_event(
            release,
            actor=by,
            verb="scope_added",
            summary=f"Added {_scope_summary(item)}",
            after=_snapshot(item, ["title", *fields]),
            data={"scope_item": item.pk},
        )
    return item


def update_scope_item(item: ScopeItem, *, by: Actor, **changes: Any) -> ScopeItem:
    reject_unknown_fields(changes, SCOPE_FIELDS, "scope")
    if "title" in changes and not str(changes["title"]).strip():
        raise ValidationError({"title": "A scope item needs a title."})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if release.scope_locked:
            raise Refused("The scope is locked: request a change instead.")
        before, after, changed = _apply_changes(item, changes)
        if changed:
            item.save(update_fields=changed)
            log_event(
                release,
                actor=by,
                verb="scope_changed",
                summary=f"Edited {_scope_summary(item)}",
                before=before,
                after=after,
                data={"scope_item": item.pk},
            )
    return item


def set_scope_item_state(item: ScopeItem, state: str, *, by: Actor) -> ScopeItem:
    """Defer an item or bring it back, while planning."""
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if release.scope_locked:
            raise Refused("The scope is locked: request a change instead.")
        if item.state == state:
            return item
        old = item.state
        item.state = state
        item.save(update_fields=["state"])
        verb = "scope_deferred" if state == ScopeItem.State.DEFERRED else "scope_restored"
        log_event(
            release,
            actor=by,
            verb=verb,
            summary=f"{'Deferred' if verb == 'scope_deferred' else 'Restored'} "
            f"{_scope_summary(item)}",
            before={"state": old},
            after={"state": state},
            data={"scope_item": item.pk},
        )
    return item


def resolve_risk(item: ScopeItem, *, by: Actor, resolution: str) -> ScopeItem:
    """Record how a blocker-level risk was dealt with (mitigated, accepted with visibility)."""
    resolution = resolution.strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how the risk was resolved or accepted."})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ScopeItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its risks can no longer change.")
        if item.resolved_at:
            raise Refused("This risk is already resolved.")
        item.resolved_at = timezone.now()
        item.resolution = resolution
        item.save(update_fields=["resolved_at", "resolution"])
        log_event(
            release,
            actor=by,
            verb="risk_resolved",
            summary=f"Resolved {_scope_summary(item)}: {resolution}",
            data={"scope_item": item.pk},
        )
    return item


def request_scope_change(
    release: Release,
    *,
    by: Actor,
    action: str,
    reason: str,
    scope_item: ScopeItem | None = None,
    proposal: dict[str, Any] | None = None,
) -> ScopeChangeRequest:
    proposal = dict(proposal or {})
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why the scope should change after the freeze."
    if action == ScopeChangeRequest.Action.ADD:
        if not str(proposal.get("title", "")).strip():
            errors["title"] = "A new scope item needs a title."
        kinds = ScopeItem.Kind.values
        if proposal.setdefault("kind", ScopeItem.Kind.FEATURE) not in kinds:
            errors["kind"] = "Unknown kind."
        if proposal.setdefault("risk", ScopeItem.Risk.LOW) not in ScopeItem.Risk.values:
            errors["risk"] = "Unknown risk level."
        try:
            check_links({"url": proposal.get("url")})
        except ValidationError as exc:
            errors["url"] = exc.message_dict["url"][0]
    elif action in (ScopeChangeRequest.Action.REMOVE, ScopeChangeRequest.Action.CHANGE_RISK):
        if scope_item is None or scope_item.release_id != release.pk:
            errors["scope_item"] = "Choose an item of this release."
        elif (
            action == ScopeChangeRequest.Action.REMOVE
            and scope_item.state != ScopeItem.State.INCLUDED
        ):
            errors["scope_item"] = "This item is already deferred."
        if action == ScopeChangeRequest.Action.CHANGE_RISK and (
            proposal.get("risk") not in ScopeItem.Risk.values
        ):
            errors["risk"] = "Choose the new risk level."
    else:
        errors["action"] = "Unknown change."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.FROZEN, Status.APPROVED):
            raise Refused(
                "Change requests are for locked scope before the deploy; "
                f"the release is {release.get_status_display().lower()}."
            )
        request = ScopeChangeRequest.objects.create(
            release=release,
            action=action,
            scope_item=scope_item,
            proposal=proposal,
            reason=reason,
            requested_by=by if isinstance(by, User) else None,
        )
        log_event(
            release,
            actor=by,
            verb="change_requested",
            summary=f"Requested scope change – {request}: {reason}",
            data={"change_request": request.pk},
        )
        notify(
            people_on(release, roles=("product", "release_manager")),
            release=release,
            verb="change_request_waiting",
            message=f"A scope change on {release} waits for your decision: {request}",
            exclude=by,
        )
    return request


def _apply_change_request(request: ScopeChangeRequest, *, by: Actor) -> str:
    release = request.release
    if request.action == ScopeChangeRequest.Action.ADD:
        fields = {
            k: request.proposal[k]
            for k in ("kind", "title", "key", "url", "risk")
            if k in request.proposal
        }
        owner_id = request.proposal.get("owner")
        item = ScopeItem.objects.create(
            release=release,
            added_after_freeze=True,
            owner_id=owner_id,
            created_by=request.requested_by,
            **fields,
        )
        return f"added {_scope_summary(item)} after the freeze"
    item = ScopeItem.objects.select_for_update().get(pk=request.scope_item_id)
    if request.action == ScopeChangeRequest.Action.REMOVE:
        item.state = ScopeItem.State.DEFERRED
        item.save(update_fields=["state"])
        return f"deferred {_scope_summary(item)}"
    old = item.get_risk_display().lower()
    item.risk = request.proposal["risk"]
    item.save(update_fields=["risk"])
    new = item.get_risk_display().lower()
    return f"changed the risk of {_scope_summary(item)} from {old} to {new}"


def approve_change_request(
    request: ScopeChangeRequest, *, by: Any, as_role: str
) -> ScopeChangeRequest:
    """Product and the release manager each accept; the second acceptance applies the change."""
    if as_role not in ("product", "release_manager"):
        raise NotAllowed("Only Product and the release manager accept scope changes.")
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id == by.pk:
            raise NotAllowed("You asked for this change, so someone else has to accept it.")
        if as_role == Role.PRODUCT:
            holds_role = (
                by.is_superuser
                or RoleAssignment.objects.filter(
                    release=release, user=by, role=Role.PRODUCT
                ).exists()
            )
        else:
            holds_role = is_release_manager(release, by)
        if not holds_role:
            raise NotAllowed(
                f"You are not {'Product' if as_role == Role.PRODUCT else 'a release manager'} "
                "on this release, so you cannot accept the change in that role."
            )
        if release.status not in (Status.FROZEN, Status.APPROVED):
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its scope can no longer "
                "change."
            )
        now = timezone.now()
        if as_role == "product":
            if request.product_approved_at:
                raise Refused("Product has already accepted this change.")
            if request.manager_approved_by_id == by.pk:
                raise NotAllowed("You already accepted this change as release manager.")
            request.product_approved_by, request.product_approved_at = by, now
        else:
            if request.manager_approved_at:
                raise Refused("The release manager has already accepted this change.")
            if request.product_approved_by_id == by.pk:
                raise NotAllowed("You already accepted this change for Product.")
            request.manager_approved_by, request.manager_approved_at = by, now
        role_label = "Product" if as_role == "product" else "release manager"
        if request.product_approved_at and request.manager_approved_at:
            request.state = ScopeChangeRequest.State.ACCEPTED
            request.decided_by, request.decided_at = by, now
            request.save()
            what = _apply_change_request(request, by=by)
            event = log_event(
                release,
                actor=by,
                verb="change_accepted",
                summary=f"Scope change accepted ({role_label} was second): {what}",
                data={"change_request": request.pk},
            )
            _content_changed(
                release, reason=f"a scope change was accepted ({what})", event=event, by=by
            )
            notify(
                [request.requested_by] if request.requested_by else [],
                release=release,
                verb="change_accepted",
                message=f"Your scope change on {release} was accepted: {request}",
            )
        else:
            request.save()
            log_event(
                release,
                actor=by,
                verb="change_approved",
                summary=f"{role_label} accepted the scope change – {request}; waiting for "
                f"{'the release manager' if as_role == 'product' else 'Product'}",
                data={"change_request": request.pk},
            )
    return request


def reject_change_request(
    request: ScopeChangeRequest, *, by: Any, reason: str
) -> ScopeChangeRequest:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the change is rejected."})
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id == by.pk:
            raise NotAllowed("Withdraw your own request instead of rejecting it.")
        if not (
            is_release_manager(release, by)
            or RoleAssignment.objects.filter(release=release, user=by, role=Role.PRODUCT).exists()
        ):
            raise NotAllowed("Only Product and the release manager decide on scope changes.")
        request.state = ScopeChangeRequest.State.REJECTED
        request.decided_by, request.decided_at = by, timezone.now()
        request.rejection_reason = reason
        request.save(update_fields=["state", "decided_by", "decided_at", "rejection_reason"])
        log_event(
            release,
            actor=by,
            verb="change_rejected",
            summary=f"Scope change rejected – {request}: {reason}",
            data={"change_request": request.pk},
        )
        notify(
            [request.requested_by] if request.requested_by else [],
            release=release,
            verb="change_rejected",
            message=f"Your scope change on {release} was rejected: {reason}",
        )
    return request


def withdraw_change_request(request: ScopeChangeRequest, *, by: Any) -> ScopeChangeRequest:
    with transaction.atomic():
        release = lock_release(request.release)
        request = ScopeChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ScopeChangeRequest.State.PENDING:
            raise Refused(f"This change request is already {request.get_state_display().lower()}.")
        if request.requested_by_id != by.pk:
            raise NotAllowed("Only the person who asked for a change can withdraw it.")
        request.state = ScopeChangeRequest.State.WITHDRAWN
        request.decided_by, request.decided_at = by, timezone.now()
        request.save(update_fields=["state", "decided_by", "decided_at"])
        log_event(
            release,
            actor=by,
            verb="change_withdrawn",
            summary=f"Scope change withdrawn – {request}",
            data={"change_request": request.pk},
        )
    return request


# --- checklists -----------------------------------------------------------------------------


def tick_checklist_item(
    item: ChecklistItem, *, by: Actor, note: str = "", url: str = ""
) -> ChecklistItem:
    check_links({"url": url.strip()})
    with transaction.atomic():
        release = lock_release(item.release)
        item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its checklists are closed.")
        if item.ticked_at:
            raise Refused(
                f"“{item.title}” is already ticked"
                + (f" by {item.ticked_by}" if item.ticked_by_id else "")
                + "."
            )
        item.ticked_by = by if isinstance(by, User) else None
        item.ticked_at = timezone.now()
        item.evidence_note = note.strip()
        item.evidence_url = url.strip()
        item.save(update_fields=["ticked_by", "ticked_at", "evidence_note", "evidence_url"])
        evidence = " – ".join(part for part in (item.evidence_note, item.evidence_url) if part)
        log_event(
            release,
            actor=by,
            verb="checklist_ticked",
            summary=f"Ticked “{item.title}”" + (f" ({evidence})" if evidence else ""),
            after={"ticked": True, "note": item.evidence_note, "url": item.evidence_url},
            data={"checklist_item": item.pk, "phase": item.phase},
        )
    return item


def untick_checklist_item(item: ChecklistItem, *, by: Actor, reason: str = "") -> ChecklistItem:
    with transaction.atomic():
        release = lock_release(item.release)
        item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if not release.is_active:
            raise Refused("The release is finished; its checklists are closed.")
        if not item.ticked_at:
            raise Refused(f"“{item.title}” is not ticked.")
        before = {
            "ticked_by": str(item.ticked_by) if item.ticked_by_id else None,
            "ticked_at": item.ticked_at.isoformat(),
            "note": item.evidence_note,
            "url": item.evidence_url,
        }
        item.ticked_by, item.ticked_at = None, None
        item.evidence_note, item.evidence_url = "", ""
        item.save(update_fields=["ticked_by", "ticked_at", "evidence_note", "evidence_url"])
        event = log_event(
            release,
            actor=by,
            verb="checklist_unticked",
            summary=f"Unticked “{item.title}”" + (f": {reason.strip()}" if reason.strip() else ""),
            before=before,
            after={"ticked": False},
            data={"checklist_item": item.pk, "phase": item.phase},
        )
        if item.required and item.phase == Phase.READINESS:
            _content_changed(
                release,
                reason=f"the required checklist item “{item.title}” was unticked",
                event=event,
                by=by,
            )
    return item


# --- roles, rollback plan, review, notes ------------------------------------------------------


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


def ask_for_go_no_go(release: Release, people: Iterable[Any]) -> None:
    """Notify people that their go/no-go is needed on the release (sent after commit)."""
    notify(
        people,
        release=release,
        verb="sign_off_requested",
        message=f"Your go/no-go is needed on {release}"
        + (f" by {release.go_no_go_at:%Y-%m-%d %H:%M} UTC" if release.go_no_go_at else "")
        + ".",
    )


def unassign_role(release: Release, user: Any, role: str, *, by: Actor) -> None:
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused("The release is finished; its roles can no longer change.")
        deleted, _ = RoleAssignment.objects.filter(release=release, user=user, role=role).delete()
        if deleted:
            log_event(
                release,
                actor=by,
                verb="role_unassigned",
                summary=f"{user} no longer {Role(role).label}",
                data={"user": user.pk, "role": role},
            )


ROLLBACK_FIELDS = (
    "revert_steps",
    "decider",
    "triggers",
    "data_considerations",
    "rehearsed_at",
    "rollback_webhook_url",
)


def update_rollback_plan(release: Release, *, by: Actor, **changes: Any) -> RollbackPlan:
    reject_unknown_fields(changes, ROLLBACK_FIELDS, "rollback plan")
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused("The release is finished; its rollback plan is part of the record now.")
        decider = changes.get("decider")
        if (
            decider is not None
            and not ProjectMembership.objects.filter(project=release.project, user=decider).exists()
        ):
            raise ValidationError({"decider": "The decider must be a member of the project."})
        plan, _ = RollbackPlan.objects.select_for_update().get_or_create(release=release)
        before, after, changed = _apply_changes(plan, changes)
        if changed:
            plan.save(update_fields=[*changed, "updated_at"])
            missing = plan.missing(release.kind)
            log_event(
                release,
                actor=by,
                verb="rollback_plan_updated",
                summary="Rollback plan updated"
                + (f"; still missing {', '.join(missing)}" if missing else "; it is complete"),
                before=before,
                after=after,
            )
    return plan


REVIEW_FIELDS = ("went_well", "went_badly", "caused_stress")


def save_review(release: Release, *, by: Actor, **fields: Any) -> Review:
    reject_unknown_fields(fields, REVIEW_FIELDS, "review")
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.RELEASED, Status.ROLLED_BACK):
            raise Refused("A review is written after the release is released or rolled back.")
        review, created = Review.objects.select_for_update().get_or_create(
            release=release, defaults={"created_by": by if isinstance(by, User) else None}
        )
        before, after, changed = _apply_changes(review, fields)
        if changed:
            # Bad input changes nothing: the error rolls back a review this call created.
            review.full_clean(exclude=["release", "created_by"])
        if changed or created:
            review.save()
            log_event(
                release,
                actor=by,
                verb="review_saved",
                summary="Post-release review " + ("started" if created else "updated"),
                before=before or None,
                after=after or None,
            )
    return review


def add_review_action(
    release: Release,
    *,
    by: Any,
    description: str,
    owner: Any = None,
    due_date: dt.date | None = None,
) -> ReviewAction:
    description = description.strip()
    if not description:
        raise ValidationError({"description": "Say what should be done."})
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in (Status.RELEASED, Status.ROLLED_BACK):
            raise Refused("Review actions come after the release is released or rolled back.")
        if (
            owner is not None
            and not ProjectMembership.objects.filter(project=release.project, user=owner).exists()
        ):
            raise ValidationError({"owner": "The owner must be a member of the project."})
        review, _ = Review.objects.get_or_create(
            release=release, defaults={"created_by": by if isinstance(by, User) else None}
        )
        action = ReviewAction.objects.create(
            review=review, description=description, owner=owner, due_date=due_date
        )
        summary = f"Review action: {description}"
        if owner is not None:
            summary += f" (owner {owner}" + (f", due {due_date:%Y-%m-%d})" if due_date else ")")
        log_event(
            release,
            actor=by,
            verb="review_action_added",
            summary=summary,
            data={"review_action": action.pk},
        )
        if owner is not None:
            notify(
                [owner],
                release=release,
                verb="review_action",
                message=f"Action for you from the review of {release}: {description}",
                exclude=by,
                chat=False,
            )
    return action


def complete_review_action(action: ReviewAction, *, by: Any) -> ReviewAction:
    with transaction.atomic():
        release = lock_release(action.review.release)
        action = ReviewAction.objects.select_for_update().get(pk=action.pk)
        if action.done_at:
            raise Refused("This action is already done.")
        action.done_at = timezone.now()
        action.save(update_fields=["done_at"])
        log_event(
            release,
            actor=by,
            verb="review_action_done",
            summary=f"Review action done: {action.description}",
            data={"review_action": action.pk},
        )
    return action


def add_note(release: Release, *, by: Actor, text: str) -> ReleaseEvent:
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write something."})
    with transaction.atomic():
        release = lock_release(release)
        return log_event(release, actor=by, verb="note", summary=text[:500])


# --- API tokens -----------------------------------------------------------------------------

TOKEN_PREFIX = "glt_"
# A token's last use is written at most this often: a busy CI job costs one write a minute,
# not one per request.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(secret: str) -> str:
    """SHA-256 is enough here: the secret is 32 random bytes, not a password to stretch."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, by: Any, name: str, project: Project | None = None) -> tuple[ApiToken, str]:
    """A personal token acting as ``by``, or a project token for ``project``'s CI.

    Returns the token and its secret. Only a hash of the secret is stored, so this is the one
    moment anyone sees it.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what uses it, e.g. “deploy-bot”."})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": "Use at most 100 characters."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            kind=ApiToken.Kind.PERSONAL if project is None else ApiToken.Kind.PROJECT,
            user=by if project is None else None,
            project=project,
            prefix=secret[: ApiToken._meta.get_field("prefix").max_length],
            hashed_secret=hash_token(secret),
            created_by=by,
        )
        _log_token(token, by=by, action="created", before=None, after="active")
    return token, secret


def revoke_api_token(token: ApiToken, *, by: Any) -> ApiToken:
    """Revoked tokens stop working at once and stay listed for the record."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
        if revoked:
            _log_token(token, by=by, action="revoked", before="active", after="revoked")
    return token


def _log_token(token: ApiToken, *, by: Any, action: str, before: str | None, after: str) -> None:
    """The token's name and state; never its secret, nor the hash of it."""
    personal = token.kind == ApiToken.Kind.PERSONAL
    log_project_event(
        token.project,
        actor=by,
        kind=ProjectEventKind.PERSONAL_TOKEN if personal else ProjectEventKind.PROJECT_TOKEN,
        action=action,
        summary=f"{'Personal' if personal else 'Project'} token “{token.name}” {action}",
        before={"name": token.name, "state": before} if before else None,
        after={"name": token.name, "state": after},
        data={"token": token.pk, "user": token.user_id} if personal else {"token": token.pk},
    )


def find_api_token(secret: str) -> ApiToken | None:
    """The active token with this secret (and its user), noting that it was used."""
    # Every API request asks this, so the lookup is the least the caller needs: one row by its
    # unique hash, with the person a personal token acts as (a project token needs only the
    # project's id).
    try:
        token = ApiToken.objects.select_related("user").get(
            hashed_secret=hash_token(secret), revoked_at__isnull=True
        )
    except ApiToken.DoesNotExist:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- wording --------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    verb = "is" if n == 1 else "are"
    return f"{n} {noun}{'' if n == 1 else 's'} {verb}"


def _minutes(delta: dt.timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h".replace(".0 h", " h")
