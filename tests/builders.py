"""Explicit builders for tests: the named cast and releases in any state, written as the rows the
services leave (tests/test_builders.py holds them to each other) or made through the services."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.models import Session
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from approvals.models import Decision, SignOff
from approvals.readiness import Readiness, compute_readiness, required_roles
from approvals.services.decisions import _load_for_decision, _snapshot, record_decision
from approvals.services.deploy import (
    announce_deploy_started,
    assign_role,
    deploy_blockers,
    start_deploy,
)
from approvals.services.policy import ensure_release_policy, update_policy
from approvals.services.sign_offs import record_sign_off
from lib.wording import duration
from monitoring.integrations.base import Observation
from monitoring.models import (
    Check,
    CheckPhase,
    Integration,
    IntegrationKind,
)
from monitoring.services.integrations import save_integration
from monitoring.services.results import STATE_FIELDS, apply_observation, record_check_result
from releases import signals
from releases.events import actor_fields, snapshot
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    Phase,
    Project,
    ProjectEvent,
    ProjectEventKind,
    ProjectMembership,
    Release,
    ReleaseEvent,
    Role,
    RollbackPlan,
    ScopeItem,
    Status,
    clean_commit_sha,
)
from releases.notifications import notify
from releases.services.checklists import tick_checklist_item
from releases.services.common import apply_changes, people_on, snapshot_fields
from releases.services.freeze_windows import freeze_windows_at
from releases.services.lifecycle import finish_deploy, lock_scope
from releases.services.projects import add_members, create_project, set_project_roles
from releases.services.releases import create_release, start_from_project
from releases.services.rollback import update_rollback_plan
from releases.services.scope import add_scope_item

PASSWORD = "greenlight"


def known[T](value: T | None) -> T:
    """``value``, which the test expects to be set by now: a moment, a row that must exist."""
    assert value is not None
    return value


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per test process: every user of the suite has the same one."""
    return make_password(PASSWORD)


def _user(username: str, **fields: Any) -> Any:
    User = get_user_model()
    return User(
        username=username, email=f"{username}@example.com", password=password_hash(), **fields
    )


def make_user(username: str, **fields: Any) -> Any:
    user = _user(username, **fields)
    user.save()
    return user


def _session_backend() -> str:
    """The backend ``Client.force_login`` names: the first that can load a user."""
    return next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )


def sessions(*users: Any) -> list[str]:
    """A signed-in session for each user, as ``Client.force_login`` leaves it, in one insert:
    force_login also rotates keys, asks django-axes and stamps ``last_login``, seventeen
    queries a person, which tests signing the whole cast into many clients do not ask about.
    The keys are for ``signed_in``."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    backend = _session_backend()
    expires = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    rows = [
        Session(
            session_key=get_random_string(32, VALID_KEY_CHARS),
            session_data=store().encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(rows)
    return [row.session_key for row in rows]


def signed_in[C: Client](client: C, session: str) -> C:
    """``client`` with one of ``sessions``' keys in its cookie (a page and an API client of one
    person may share it)."""
    client.cookies[settings.SESSION_COOKIE_NAME] = session
    return client


class Rewind:
    """The database as it is now, to come back to after each of many attempts on it: one
    savepoint, rolled back to after every attempt (PostgreSQL keeps a savepoint it rolled back
    to), where an ``atomic()`` block around each attempt makes, rolls back and releases one:
    a query an attempt instead of three."""

    def __init__(self) -> None:
        self.savepoint = transaction.savepoint_create()
        assert self.savepoint is not None, "a savepoint needs the test's transaction"

    def __call__(self) -> None:
        transaction.savepoint_rollback(self.savepoint)


@dataclass
class Cast:
    project: Project
    rita: Any  # release manager
    paul: Any  # product
    quinn: Any  # QA
    dana: Any  # DevOps
    devin: Any  # developer
    vic: Any  # viewer
    otto: Any  # outsider: not a member of the project
    ci: Integration

    def by_role(self, role: str) -> Any:
        people: dict[str, Any] = {
            Role.RELEASE_MANAGER: self.rita,
            Role.PRODUCT: self.paul,
            Role.QA: self.quinn,
            Role.DEVOPS: self.dana,
            Role.DEV: self.devin,
            Role.VIEWER: self.vic,
        }
        return people[role]


MEMBERS = [
    ("paul", Role.PRODUCT),
    ("quinn", Role.QA),
    ("dana", Role.DEVOPS),
    ("devin", Role.DEV),
    ("vic", Role.VIEWER),
]


def make_cast(slug: str = "payments", *, through_services: bool = False) -> Cast:
    """The project ``slug`` with its people (rita, its release manager, and one member of
    each role), its checklist templates and a CI check. The project and its members are
    written as the rows ``create_project`` and ``add_members`` leave (tests/test_builders.py
    holds them to each other) unless ``through_services`` asks for those services."""
    # The people in one insert, in the order (and so with the ids) they always had: the cast is
    # made before nearly every test, and the rows are what make_user would make.
    suffix = "" if slug == "payments" else f"-{slug}"
    rita, *members, otto = get_user_model().objects.bulk_create(
        [
            _user(f"rita{suffix}", first_name="Rita"),
            *(_user(f"{name}{suffix}", first_name=name.title()) for name, _ in MEMBERS),
            _user(f"otto{suffix}"),
        ]
    )
    named = [(name, role, person) for (name, role), person in zip(MEMBERS, members, strict=True)]
    roles = [(person, role) for _, role, person in named]
    if through_services:
        project = create_project(name=slug.title(), slug=slug, by=rita)
        add_members(project, {person: [role] for person, role in roles}, by=rita)
    else:
        project = _project_directly(slug, rita, roles)
    people = {"rita": rita, **{name: person for name, _, person in named}}
    ChecklistTemplate.objects.bulk_create(
        ChecklistTemplate(
            project=project,
            phase=phase,
            title=title,
            owner_role=role,
            required=required,
            position=position,
        )
        for position, (phase, title, role, required) in enumerate(
            [
                (Phase.READINESS, "Critical flows pass", Role.QA, True),
                (Phase.READINESS, "Migrations reviewed", Role.DEV, True),
                (Phase.READINESS, "Stakeholders told", Role.RELEASE_MANAGER, False),
                (Phase.DEPLOYMENT, "Smoke test in production", Role.DEVOPS, True),
            ]
        )
    )
    ci = Integration.objects.create(project=project, name="CI", kind=IntegrationKind.PUSH)
    Check.objects.create(
        project=project, integration=ci, name="CI green", phase=CheckPhase.PRE_RELEASE
    )
    return Cast(project=project, otto=otto, ci=ci, **people)


def _project_directly(slug: str, rita: Any, roles: Sequence[tuple[Any, str]]) -> Project:
    """What ``create_project`` by rita and ``add_members`` leave: the project, its memberships
    and their events, each in one insert, and what its creation gives it. No transaction of
    its own: the test's holds it, or each insert commits."""
    project = Project.objects.create(name=slug.title(), slug=slug, description="")
    ProjectMembership.objects.bulk_create(
        [
            ProjectMembership(project=project, user=rita, role=Role.RELEASE_MANAGER),
            *(ProjectMembership(project=project, user=p, role=r) for p, r in roles),
        ]
    )
    by = {"actor": rita, "actor_label": rita.get_username()[:120]}
    labels = dict(Role.choices)
    ProjectEvent.objects.bulk_create(
        [
            ProjectEvent(
                project=project,
                kind=ProjectEventKind.PROJECT,
                action="added",
                summary=f"Project “{project}” created",
                after=snapshot(project),
                **by,
            ),
            *(
                ProjectEvent(
                    project=project,
                    kind=ProjectEventKind.MEMBERSHIP,
                    action="added",
                    summary=f"{person} added as: {labels[role]}",
                    after={"roles": [role]},
                    data={"user": person.pk, "username": person.get_username()},
                    **by,
                )
                for person, role in roles
            ),
        ]
    )
    # Its receivers give the project what it starts with (the approval policy), as for
    # ``create_project``.
    signals.project_created.send(sender=Project, project=project)
    return project


# What ``make_release`` writes directly besides the kind, the commit and the scope; the plan's
# moments go through ``create_release``, which checks them against each other.
DIRECT_RELEASE_FIELDS = frozenset({"title", "git_ref", "environment"})


def make_release(
    cast: Cast,
    version: str = "1.0.0",
    *,
    kind: str = "standard",
    scope: int = 1,
    sha: str = "a" * 40,
    through_services: bool = False,
    **fields: Any,
) -> Release:
    """A planning release of rita's with ``scope`` items, written as the rows ``create_release``
    and ``add_scope_item`` leave (tests/test_builders.py holds them to each other) unless
    ``through_services`` asks for those services, or a field only they check is given."""
    if through_services or not DIRECT_RELEASE_FIELDS.issuperset(fields):
        release = create_release(
            cast.project, by=cast.rita, version=version, kind=kind, commit_sha=sha, **fields
        )
        for n in range(scope):
            add_scope_item(release, by=cast.rita, title=f"Feature {n + 1}", key=f"PAY-{n + 1}")
        return release
    return _release_directly(cast, version, kind=kind, scope=scope, sha=sha, **fields)


def _release_directly(
    cast: Cast, version: str, *, kind: str, scope: int, sha: str, **fields: Any
) -> Release:
    project, rita = cast.project, cast.rita
    fields = {"kind": kind, "commit_sha": clean_commit_sha(sha), **fields}
    # No transaction of its own: the test's holds it, or each insert commits.
    release = Release.objects.create(project=project, version=version, created_by=rita, **fields)
    start_from_project(release)
    items = ScopeItem.objects.bulk_create(
        ScopeItem(release=release, title=f"Feature {n}", key=f"PAY-{n}", created_by=rita)
        for n in range(1, scope + 1)
    )
    by = actor_fields(rita)
    created, *added = ReleaseEvent.objects.bulk_create(
        [
            ReleaseEvent(
                release=release,
                verb="release_created",
                summary=f"Release {version} ({release.get_kind_display().lower()}) created",
                after=snapshot_fields(release, ["version", *fields]),
                **by,
            ),
            *(
                ReleaseEvent(
                    release=release,
                    verb="scope_added",
                    summary=f"Added {item.get_kind_display()} “{item.key} {item.title}”",
                    after=snapshot_fields(item, ["title", "key"]),
                    data={"scope_item": item.pk},
                    **by,
                )
                for item in items
            ),
        ]
    )
    signals.release_created.send(sender=Release, release=release, actor=rita, event=created)
    for event in (created, *added):
        transaction.on_commit(
            functools.partial(signals.event_logged.send, sender=ReleaseEvent, event=event)
        )
    return release


def rollback_plan_fields(cast: Cast) -> dict[str, Any]:
    return {
        "revert_steps": "Redeploy the previous tag.",
        "decider": cast.rita,
        "triggers": "Error rate above 2 % for 5 minutes.",
        "data_considerations": "No schema change; nothing to undo.",
        "rehearsed_at": timezone.now() - dt.timedelta(days=1),
    }


def complete_rollback_plan(release: Release, cast: Cast) -> None:
    update_rollback_plan(release, by=cast.dana, **rollback_plan_fields(cast))


def tick_readiness(release: Release, cast: Cast) -> None:
    for item in release.checklist_items.filter(phase=Phase.READINESS, required=True):
        tick_checklist_item(item, by=cast.by_role(item.owner_role), note="done")


def pass_checks(release: Release) -> None:
    for check in release.checks.filter(phase=CheckPhase.PRE_RELEASE):
        record_check_result(check, status="passing", value="success", source="api")


def second_release_manager(release: Release, cast: Cast) -> Any:
    """Rhea, a second release manager of the project, assigned to the release by rita: the
    release-manager sign-off of a major release comes from someone other than its creator."""
    slug = cast.project.slug
    username = "rhea" if slug == "payments" else f"rhea-{slug}"
    User = get_user_model()
    rhea = User.objects.filter(username=username).first() or make_user(username, first_name="Rhea")
    set_project_roles(cast.project, rhea, [Role.RELEASE_MANAGER], by=cast.rita)
    assign_role(release, rhea, Role.RELEASE_MANAGER, by=cast.rita)
    return rhea


def signer(release: Release, cast: Cast, role: str) -> Any:
    """Who signs for a role in the builders: never the release's creator (rita)."""
    if role == Role.RELEASE_MANAGER:
        return second_release_manager(release, cast)
    return cast.by_role(role)


def sign_required(release: Release, cast: Cast, roles: tuple[str, ...] | None = None) -> None:
    wanted = roles or tuple(required_roles(release)[0])
    for role in wanted:
        record_sign_off(release, by=signer(release, cast, role), role=role, decision="go")


class _Rows:
    """What the services leave when a release walks its lifecycle, written as rows: the
    release's columns, ticks, checks and their results, sign-offs, the decision, events and
    notifications, each table in one insert or update. The guards, row locks and re-reads the
    services do at every step are what this leaves out; tests/test_builders.py holds the rows
    to the services' own, table by table.

    The events are inserted together, in the order the services log them, each with its
    signal for after the commit; the checks' results go through the service's own
    ``apply_observation``. The status changes are signalled once the release is written, so
    their receivers do what they do after the services."""

    def __init__(self, release: Release) -> None:
        self.release = Release.objects.select_related("project").get(pk=release.pk)
        self.now = timezone.now()
        self.events: list[ReleaseEvent] = []
        self.transitions: list[tuple[str, str, Any, ReleaseEvent]] = []
        self.fields: set[str] = set()
        self.written = 0

    def log(self, *, actor: Any, verb: str, summary: str, **values: Any) -> ReleaseEvent:
        event = ReleaseEvent(
            release=self.release,
            verb=verb,
            summary=summary[:500],
            before=values.get("before"),
            after=values.get("after"),
            data=values.get("data") or {},
            created_at=self.now,
            **actor_fields(actor),
        )
        self.events.append(event)
        return event

    def move(
        self, target: str, *, by: Any, verb: str, summary: str, stamp: str, data: Any = None
    ) -> None:
        release = self.release
        old = release.status
        release.status = target
        setattr(release, stamp, self.now)
        self.fields.update(("status", stamp))
        event = self.log(
            actor=by,
            verb=verb,
            summary=summary,
            before={"status": old},
            after={"status": target},
            data=data,
        )
        self.transitions.append((old, target, by, event))

    def flush(self) -> None:
        """Insert the events logged so far, each with its signal for after the commit."""
        written = ReleaseEvent.objects.bulk_create(self.events[self.written :])
        self.written = len(self.events)
        for event in written:
            transaction.on_commit(
                functools.partial(signals.event_logged.send, sender=ReleaseEvent, event=event)
            )

    def save_release(self) -> None:
        if self.fields:
            self.release.save(update_fields=[*sorted(self.fields), "updated_at"])
            self.fields.clear()

    def tick(
        self, items: list[ChecklistItem], cast: Cast, *, note: str = "", by: Any = None
    ) -> None:
        for item in items:
            assert item.ticked_at is None, f"“{item.title}” is already ticked"
            person = by or cast.by_role(item.owner_role)
            item.ticked_by, item.ticked_at = person, self.now
            item.evidence_note, item.evidence_url = note, ""
            self.log(
                actor=person,
                verb="checklist_ticked",
                summary=f"Ticked “{item.title}”" + (f" ({note})" if note else ""),
                after={"ticked": True, "note": note, "url": ""},
                data={"checklist_item": item.pk, "phase": item.phase},
            )
        ChecklistItem.objects.bulk_update(
            items, ["ticked_by", "ticked_at", "evidence_note", "evidence_url"]
        )

    def plan(self, cast: Cast) -> None:
        plan, _ = RollbackPlan.objects.get_or_create(release=self.release)
        before, after, changed = apply_changes(plan, rollback_plan_fields(cast))
        if changed:
            plan.save(update_fields=[*changed, "updated_at"])
            missing = plan.missing(self.release.kind)
            self.log(
                actor=cast.dana,
                verb="rollback_plan_updated",
                summary="Rollback plan updated"
                + (f"; still missing {', '.join(missing)}" if missing else "; it is complete"),
                before=before,
                after=after,
            )

    def pass_checks(self) -> None:
        """What ``record_check_result(status="passing", value="success", source="api")`` does
        to each pre-release check, without its locks: the service's own ``apply_observation``,
        whose events go after those logged so far."""
        self.flush()
        checks = list(self.release.checks.filter(phase=CheckPhase.PRE_RELEASE))
        passing = Observation(status="passing", value="success")
        for check in checks:
            apply_observation(
                check,
                self.release,
                passing,
                sha=self.release.commit_sha,
                source="api",
                by=None,
                now=self.now,
            )
            check.etag = ""
        Check.objects.bulk_update(checks, [*STATE_FIELDS, "etag"])

    def sign(self, cast: Cast) -> None:
        release = self.release
        roles = required_roles(release)[0]
        if Role.RELEASE_MANAGER in roles:
            # Rhea is assigned through the service as the signing begins: its event goes
            # after those logged so far.
            self.flush()
        signers = [(role, signer(release, cast, role)) for role in roles]
        ensure_release_policy(release)
        sign_offs = SignOff.objects.bulk_create(
            SignOff(
                release=release,
                user=person,
                role=role,
                decision=SignOff.Decision.GO,
                created_at=self.now,
            )
            for role, person in signers
        )
        for sign_off in sign_offs:
            self.log(
                actor=sign_off.user,
                verb="sign_off_go",
                summary=f"{sign_off.get_role_display()}: {sign_off.get_decision_display()}",
                after={"decision": sign_off.decision, "role": sign_off.role},
                data={"sign_off": sign_off.pk, "role": sign_off.role},
            )
        if sign_offs:
            self.log(
                actor=sign_offs[-1].user,
                verb="sign_offs_complete",
                summary="Every required role has signed Go",
                data={"sign_off": sign_offs[-1].pk},
            )

    def ready(self, cast: Cast) -> None:
        if self.release.status == Status.PLANNING:
            self.move(
                Status.FROZEN,
                by=cast.rita,
                verb="scope_locked",
                summary="Scope locked: changes now go through change requests",
                stamp="frozen_at",
            )
        items = self.release.checklist_items.filter(phase=Phase.READINESS, required=True)
        self.tick(list(items), cast, note="done")
        self.plan(cast)
        self.pass_checks()
        self.sign(cast)
        self.save_release()

    def approve(self, cast: Cast) -> Readiness:
        """What ``record_decision(outcome="go")`` leaves on a ready release."""
        loaded = _load_for_decision(self.release)
        readiness = compute_readiness(loaded, now=self.now)
        assert readiness.ready, f"Not ready: {readiness.summary()}"
        decision = Decision.objects.create(
            release=self.release,
            outcome=Decision.Outcome.GO,
            decided_by=cast.rita,
            decided_at=self.now,
            snapshot=_snapshot(loaded, readiness, self.now),
        )
        self.log(
            actor=cast.rita,
            verb="decision_go",
            summary="Go decision recorded",
            data={
                "decision": decision.pk,
                "blockers": [],
                "override_reason": "",
                "override_categories": [],
            },
        )
        self.move(
            Status.APPROVED,
            by=cast.rita,
            verb="approved",
            summary="Approved for deploy",
            stamp="approved_at",
        )
        notify(
            people_on(self.release),
            release=self.release,
            verb="decision",
            message=f"Go on {self.release}",
        )
        return readiness

    def deploy(self, cast: Cast, readiness: Readiness) -> None:
        """What ``start_deploy(override_reason="test")`` leaves on a release just approved."""
        release, reason = self.release, "test"
        blockers = deploy_blockers(release, now=self.now, readiness=readiness)
        problems = [b.message for b in blockers]
        summary, data = "Deploy started", {}
        if problems:
            windows = freeze_windows_at(release.project, self.now)
            data = {
                "override_reason": reason,
                "overridden": problems,
                "override_categories": list(
                    dict.fromkeys(str(b.override_category) for b in blockers)
                ),
                "freeze_windows": [window.pk for window in windows],
            }
            summary += f" with an override ({reason}) of: " + "; ".join(problems)
            release.override_used = True
            self.fields.add("override_used")
        self.move(
            Status.DEPLOYING,
            by=cast.rita,
            verb="deploy_started",
            summary=summary,
            stamp="deploy_started_at",
            data=data,
        )
        announce_deploy_started(release, by=cast.rita, problems=problems, reason=reason)

    def finish(self, cast: Cast) -> None:
        """The required deployment items ticked by Dana, then ``finish_deploy``."""
        release = self.release
        items = release.checklist_items.filter(phase=Phase.DEPLOYMENT, required=True)
        self.tick(list(items), cast, by=cast.dana)
        window = release.project.monitoring_window(release.kind)
        release.monitoring_until = self.now + window
        self.fields.add("monitoring_until")
        self.move(
            Status.MONITORING,
            by=cast.dana,
            verb="deploy_finished",
            summary=f"Deploy done; watching health for {duration(window)}",
            stamp="deploy_finished_at",
        )

    def done(self, release: Release) -> Release:
        """Write the release and the events, send what the services send, and bring the
        caller's copy of the release up to date."""
        self.save_release()
        self.flush()
        for old, new, by, event in self.transitions:
            signals.status_changed.send(
                sender=Release, release=self.release, old=old, new=new, actor=by, event=event
            )
        release.refresh_from_db()
        return release


def sign_directly(release: Release, cast: Cast) -> None:
    """Every required role's Go, written as rows with the events the service logs, for tests
    that need a signed release rather than the signing: ``sign_required`` signs through the
    service, guards, staleness and notifications included, at four times the cost."""
    with transaction.atomic():
        rows = _Rows(release)
        rows.sign(cast)
        rows.done(release)


# The states below are written directly (``_Rows``) unless ``lifecycle`` asks for the walk
# through the services: for the tests about that walk, and for tests that need what the
# services leave for after the commit besides the events (a commit range read, emails sent).
# tests/test_builders.py checks that both ways leave the same rows.


def make_ready(
    release: Release,
    cast: Cast,
    *,
    sign_through_services: bool = False,
    lifecycle: bool = False,
) -> Release:
    """A frozen release with every readiness criterion met; the sign-offs are written directly
    unless the test is about signing."""
    if not (lifecycle or sign_through_services):
        with transaction.atomic():
            rows = _Rows(release)
            rows.ready(cast)
            return rows.done(release)
    if release.status == "planning":
        lock_scope(release, by=cast.rita)
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)
    if sign_through_services:
        sign_required(release, cast)
    else:
        sign_directly(release, cast)
    release.refresh_from_db()
    return release


def _directly(release: Release, cast: Cast, target: str) -> Release:
    with transaction.atomic():
        rows = _Rows(release)
        rows.ready(cast)
        readiness = rows.approve(cast)
        if target != Status.APPROVED:
            rows.deploy(cast, readiness)
        if target == Status.MONITORING:
            rows.finish(cast)
        return rows.done(release)


def make_approved(release: Release, cast: Cast, *, lifecycle: bool = False) -> Release:
    if not lifecycle:
        return _directly(release, cast, Status.APPROVED)
    make_ready(release, cast, lifecycle=True)
    record_decision(release, by=cast.rita, outcome="go")
    release.refresh_from_db()
    return release


def make_deploying(release: Release, cast: Cast, *, lifecycle: bool = False) -> Release:
    if not lifecycle:
        return _directly(release, cast, Status.DEPLOYING)
    make_approved(release, cast, lifecycle=True)
    start_deploy(release, by=cast.rita, override_reason="test")
    release.refresh_from_db()
    return release


def make_monitoring(release: Release, cast: Cast, *, lifecycle: bool = False) -> Release:
    if not lifecycle:
        return _directly(release, cast, Status.MONITORING)
    make_deploying(release, cast, lifecycle=True)
    for item in release.checklist_items.filter(phase=Phase.DEPLOYMENT, required=True):
        tick_checklist_item(item, by=cast.dana)
    finish_deploy(release, by=cast.dana)
    release.refresh_from_db()
    return release


def let_release_managers_override(cast: Cast, *categories: str) -> None:
    """Relax the approval policy so release managers may break glass over these blockers
    (by default missing sign-offs need an administrator and a standing No-go nobody)."""
    overrides: dict[str, Any] = {
        f"override_{category}": "release_managers" for category in categories
    }
    update_policy(cast.project, by=cast.rita, **overrides)


# A release's commit range: the base (the last release's commit) and the head (this release's).
BASE, HEAD = "b" * 40, "4" * 40


def compare_commits(cast: Cast, base_url: str, *, released_base: bool = True) -> Integration:
    """Payments compares commits on GitHub (at ``base_url``); with ``released_base``, 1.0.0 was
    released on BASE, so a release on HEAD has a range to read."""
    github = save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        base_url=base_url,
        config={"repo": "example/payments", "compare_commits": "yes"},
        secrets={"token": "ghp_x"},
    )
    if released_base:
        Release.objects.create(
            project=cast.project,
            version="1.0.0",
            status="released",
            commit_sha=BASE,
            released_at=timezone.now(),
        )
    return github


def connect_launchdarkly(cast: Cast, base_url: str) -> Integration:
    """Payments switches its feature flags on LaunchDarkly (at ``base_url``), in the test and
    production environments, connected by Dana."""
    return save_integration(
        cast.project,
        by=cast.dana,
        name="LaunchDarkly",
        kind="launchdarkly",
        base_url=base_url,
        config={"project": "shop", "environments": "test,production"},
        secrets={"token": "api-standin"},
    )


def connect_jira(cast: Cast, base_url: str) -> Integration:
    """Payments tracks its scope in Jira (at ``base_url``), project PAY, Tasks read as
    dependencies, connected by Rita."""
    return save_integration(
        cast.project,
        by=cast.rita,
        name="Jira",
        kind="jira",
        base_url=base_url,
        config={"project_key": "PAY", "kind_map": "Task=dependency"},
        secrets={"email": "rita@example.com", "token": "atl-token"},
    )
