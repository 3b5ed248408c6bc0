"""Explicit builders for tests: the named cast and releases in any state, made through services."""

from __future__ import annotations

import datetime as dt
import functools
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

from approvals.models import SignOff
from approvals.readiness import required_roles
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role, start_deploy
from approvals.services.policy import ensure_release_policy, update_policy
from approvals.services.sign_offs import record_sign_off
from monitoring.models import Check, CheckPhase, Integration, IntegrationKind
from monitoring.services.integrations import save_integration
from monitoring.services.results import record_check_result
from releases.events import log_event
from releases.models import ChecklistTemplate, Phase, Project, Release, Role
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import finish_deploy, lock_scope
from releases.services.projects import add_members, create_project, set_project_roles
from releases.services.releases import create_release
from releases.services.rollback import update_rollback_plan
from releases.services.scope import add_scope_item

PASSWORD = "greenlight"


@functools.cache
def known[T](value: T | None) -> T:
    """``value``, which the test expects to be set by now: a moment, a row that must exist."""
    assert value is not None
    return value


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


def make_cast(slug: str = "payments") -> Cast:
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
    project = create_project(name=slug.title(), slug=slug, by=rita)
    people = {"rita": rita}
    roles = {}
    for (name, role), person in zip(MEMBERS, members, strict=True):
        people[name] = person
        roles[person] = [role]
    add_members(project, roles, by=rita)
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


def make_release(
    cast: Cast,
    version: str = "1.0.0",
    *,
    kind: str = "standard",
    scope: int = 1,
    sha: str = "a" * 40,
    **fields: Any,
) -> Release:
    release = create_release(
        cast.project, by=cast.rita, version=version, kind=kind, commit_sha=sha, **fields
    )
    for n in range(scope):
        add_scope_item(release, by=cast.rita, title=f"Feature {n + 1}", key=f"PAY-{n + 1}")
    return release


def complete_rollback_plan(release: Release, cast: Cast) -> None:
    update_rollback_plan(
        release,
        by=cast.dana,
        revert_steps="Redeploy the previous tag.",
        decider=cast.rita,
        triggers="Error rate above 2 % for 5 minutes.",
        data_considerations="No schema change; nothing to undo.",
        rehearsed_at=timezone.now() - dt.timedelta(days=1),
    )


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


def sign_directly(release: Release, cast: Cast) -> None:
    """Every required role's Go, written as rows with the events the service logs, for tests
    that need a signed release rather than the signing: ``sign_required`` signs through the
    service, guards, staleness and notifications included, at four times the cost."""
    signers = [(role, signer(release, cast, role)) for role in required_roles(release)[0]]
    with transaction.atomic():
        ensure_release_policy(release)
        now = timezone.now()
        sign_offs = SignOff.objects.bulk_create(
            SignOff(
                release=release,
                user=person,
                role=role,
                decision=SignOff.Decision.GO,
                created_at=now,
            )
            for role, person in signers
        )
        for sign_off in sign_offs:
            log_event(
                release,
                actor=sign_off.user,
                verb="sign_off_go",
                summary=f"{sign_off.get_role_display()}: {sign_off.get_decision_display()}",
                after={"decision": sign_off.decision, "role": sign_off.role},
                data={"sign_off": sign_off.pk, "role": sign_off.role},
            )
        if sign_offs:
            log_event(
                release,
                actor=sign_offs[-1].user,
                verb="sign_offs_complete",
                summary="Every required role has signed Go",
                data={"sign_off": sign_offs[-1].pk},
            )


def make_ready(release: Release, cast: Cast, *, sign_through_services: bool = False) -> Release:
    """A frozen release with every readiness criterion met; the sign-offs are written directly
    unless the test is about signing."""
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


def make_approved(release: Release, cast: Cast) -> Release:
    make_ready(release, cast)
    record_decision(release, by=cast.rita, outcome="go")
    release.refresh_from_db()
    return release


def make_deploying(release: Release, cast: Cast) -> Release:
    make_approved(release, cast)
    start_deploy(release, by=cast.rita, override_reason="test")
    release.refresh_from_db()
    return release


def make_monitoring(release: Release, cast: Cast) -> Release:
    make_deploying(release, cast)
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
