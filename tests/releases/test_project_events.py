"""The project log: every change to a project's settings is one event with who, what, before and
after, written in the change's transaction; a failed change leaves none; credentials never show."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from approvals.models import ApprovalPolicy
from approvals.services.policy import ensure_policy, set_role_requirement, update_policy
from lib.errors import NotAllowed, Refused
from monitoring.models import Check, Integration
from monitoring.services.checks import delete_check_template, save_check_template
from monitoring.services.integrations import delete_integration, save_integration
from monitoring.services.rollback import rotate_rollback_webhook_secret
from releases.events import audited_fields, log_project_event
from releases.models import ApiToken, ChecklistTemplate, FreezeWindow, ProjectEvent
from releases.services import trains
from releases.services.checklists import delete_checklist_template, save_checklist_template
from releases.services.freeze_windows import delete_freeze_window, save_freeze_window
from releases.services.projects import (
    add_members,
    create_project,
    set_project_roles,
    update_project,
)
from releases.services.tokens import create_api_token, revoke_api_token
from tests.builders import Cast, make_release, make_user

pytestmark = pytest.mark.django_db

GITHUB_TOKEN = "ghp_TopSecretToken1234567890"
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/SuperSecretPath42"


def last_pk() -> int:
    return ProjectEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def events_since(pk: int) -> list[ProjectEvent]:
    return list(ProjectEvent.objects.filter(pk__gt=pk).order_by("pk").select_related("actor"))


def github(cast: Cast, **overrides: Any) -> Integration:
    fields = {
        "name": "GitHub",
        "kind": "github",
        "config": {"repo": "example/payments"},
        "secrets": {"token": GITHUB_TOKEN},
    }
    return save_integration(cast.project, by=cast.rita, **(fields | overrides))


def freeze(cast: Cast, **overrides: Any) -> FreezeWindow:
    fields: dict[str, Any] = {
        "reason": "Black Friday",
        "recurrence": "once",
        "starts_at": dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
        "ends_at": dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    }
    return save_freeze_window(cast.project, by=cast.rita, **(fields | overrides))


def train(cast: Cast, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "Fortnightly",
        "cadence_weeks": 2,
        "first_deploy_date": dt.date(2026, 11, 17),
        "deploy_time": dt.time(14, 0),
        "timezone": "Europe/Berlin",
    }
    return trains.save_train(cast.project, by=cast.rita, **(fields | overrides))


def check_template(cast: Cast, **overrides: Any) -> Check:
    fields: dict[str, Any] = {"name": "Error rate", "integration": cast.ci, "phase": "post_release"}
    return save_check_template(cast.project, by=cast.rita, **(fields | overrides))


def project_token(cast: Cast) -> ApiToken:
    return create_api_token(by=cast.rita, name="deploy-bot", project=cast.project)[0]


@dataclass(frozen=True)
class Case:
    """A project change: what to set up first, the change itself, and the event it must write."""

    change: Callable[[Cast, Any], Any]
    kind: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    setup: Callable[[Cast], Any] = lambda cast: None
    personal: bool = False


CASES = {
    "project details": Case(
        change=lambda c, _: update_project(c.project, by=c.rita, name="Payments EU"),
        kind="project",
        action="changed",
        before={"name": "Payments"},
        after={"name": "Payments EU"},
    ),
    "notification target": Case(
        change=lambda c, _: update_project(c.project, by=c.rita, slack_webhook_url=SLACK_URL),
        kind="project",
        action="changed",
        before={"slack_webhook_url": ""},
        after={"slack_webhook_url": "credentials changed"},
    ),
    "member added": Case(
        setup=lambda c: make_user("nina"),
        change=lambda c, nina: set_project_roles(c.project, nina, ["qa"], by=c.rita),
        kind="membership",
        action="added",
        before=None,
        after={"roles": ["qa"]},
    ),
    "member's roles changed": Case(
        change=lambda c, _: set_project_roles(
            c.project, c.dana, ["devops", "release_manager"], by=c.rita
        ),
        kind="membership",
        action="changed",
        before={"roles": ["devops"]},
        after={"roles": ["devops", "release_manager"]},
    ),
    "member removed": Case(
        change=lambda c, _: set_project_roles(c.project, c.vic, [], by=c.rita),
        kind="membership",
        action="removed",
        before={"roles": ["viewer"]},
        after=None,
    ),
    "separation of duties turned off": Case(
        setup=lambda c: ensure_policy(c.project),
        change=lambda c, _: update_policy(c.project, by=c.rita, separation_of_duties=False),
        kind="approval_policy",
        action="changed",
        before={"separation_of_duties": True},
        after={"separation_of_duties": False},
    ),
    "quorum cut": Case(
        setup=lambda c: ensure_policy(c.project),
        change=lambda c, _: set_role_requirement(
            c.project, by=c.rita, release_kind="standard", role="qa", quorum=0
        ),
        kind="approval_policy",
        action="changed",
        before={"quorum.standard.qa": 1},
        after={"quorum.standard.qa": 0},
    ),
    "freeze window added": Case(
        change=lambda c, _: freeze(c),
        kind="freeze_window",
        action="added",
        before=None,
        after={
            "reason": "Black Friday",
            "recurrence": "once",
            "starts_at": "2026-11-27T00:00:00+00:00",
            "ends_at": "2026-11-30T00:00:00+00:00",
            "start_weekday": None,
            "start_time": None,
            "end_weekday": None,
            "end_time": None,
            "timezone": "UTC",
        },
    ),
    "freeze window changed": Case(
        setup=freeze,
        change=lambda c, window: save_freeze_window(
            c.project, by=c.rita, window=window, ends_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        ),
        kind="freeze_window",
        action="changed",
        before={"ends_at": "2026-11-30T00:00:00+00:00"},
        after={"ends_at": "2026-12-01T00:00:00+00:00"},
    ),
    "freeze window deleted": Case(
        setup=freeze,
        change=lambda c, window: delete_freeze_window(window, by=c.rita),
        kind="freeze_window",
        action="removed",
        before={
            "reason": "Black Friday",
            "recurrence": "once",
            "starts_at": "2026-11-27T00:00:00+00:00",
            "ends_at": "2026-11-30T00:00:00+00:00",
            "start_weekday": None,
            "start_time": None,
            "end_weekday": None,
            "end_time": None,
            "timezone": "UTC",
        },
        after=None,
    ),
    "checklist template added": Case(
        change=lambda c, _: save_checklist_template(
            c.project, by=c.rita, title="Feature flags off", owner_role="dev", required=False
        ),
        kind="checklist_template",
        action="added",
        before=None,
        after={
            "phase": "readiness",
            "title": "Feature flags off",
            "help_text": "",
            "owner_role": "dev",
            "required": False,
            "for_standard": True,
            "for_hotfix": True,
            "for_major": True,
            "evidence_required": "none",
            "position": 0,
        },
    ),
    "checklist template changed": Case(
        setup=lambda c: c.project.checklist_templates.get(title="Critical flows pass"),
        change=lambda c, t: save_checklist_template(
            c.project, by=c.rita, template=t, required=False
        ),
        kind="checklist_template",
        action="changed",
        before={"required": True},
        after={"required": False},
    ),
    "checklist template deleted": Case(
        setup=lambda c: c.project.checklist_templates.get(title="Stakeholders told"),
        change=lambda c, t: delete_checklist_template(t, by=c.rita),
        kind="checklist_template",
        action="removed",
        before={
            "phase": "readiness",
            "title": "Stakeholders told",
            "help_text": "",
            "owner_role": "release_manager",
            "required": False,
            "for_standard": True,
            "for_hotfix": True,
            "for_major": True,
            "evidence_required": "none",
            "position": 2,
        },
        after=None,
    ),
    "integration added": Case(
        change=lambda c, _: github(c),
        kind="integration",
        action="added",
        before=None,
        after={
            "name": "GitHub",
            "kind": "github",
            "base_url": "",
            "config": {"repo": "example/payments"},
            "secrets_encrypted": "hidden",
            "enabled": True,
        },
    ),
    "integration renamed and disabled": Case(
        setup=github,
        change=lambda c, i: github(c, integration=i, name="GitHub Actions", enabled=False),
        kind="integration",
        action="changed",
        before={"name": "GitHub", "enabled": True},
        after={"name": "GitHub Actions", "enabled": False},
    ),
    "integration credentials replaced": Case(
        setup=github,
        change=lambda c, i: github(c, integration=i, secrets={"token": "ghp_AnotherSecret"}),
        kind="integration",
        action="changed",
        before={"secrets_encrypted": "hidden"},
        after={"secrets_encrypted": "credentials changed"},
    ),
    "integration deleted": Case(
        setup=lambda c: github(c, secrets={"token": GITHUB_TOKEN}),
        change=lambda c, i: delete_integration(i, by=c.rita),
        kind="integration",
        action="removed",
        before={
            "name": "GitHub",
            "kind": "github",
            "base_url": "",
            "config": {"repo": "example/payments"},
            "secrets_encrypted": "hidden",
            "enabled": True,
        },
        after=None,
    ),
    "check template added": Case(
        change=lambda c, _: check_template(c),
        kind="check_template",
        action="added",
        before=None,
        after={
            "integration": "CI (Pushed results)",
            "name": "Error rate",
            "phase": "post_release",
            "required": True,
            "params": {},
            "comparator": "",
            "threshold": None,
            "stabilisation_seconds": 0,
            "interval_seconds": 60,
            "hold_seconds": 0,
            "timeout_seconds": None,
        },
    ),
    "check template made advisory": Case(
        setup=check_template,
        change=lambda c, check: save_check_template(
            c.project, by=c.rita, check=check, required=False
        ),
        kind="check_template",
        action="changed",
        before={"required": True},
        after={"required": False},
    ),
    "check template deleted": Case(
        setup=lambda c: c.project.check_templates.get(name="CI green"),
        change=lambda c, check: delete_check_template(check, by=c.rita),
        kind="check_template",
        action="removed",
        before={
            "integration": "CI (Pushed results)",
            "name": "CI green",
            "phase": "pre_release",
            "required": True,
            "params": {},
            "comparator": "",
            "threshold": None,
            "stabilisation_seconds": 0,
            "interval_seconds": 60,
            "hold_seconds": 0,
            "timeout_seconds": None,
        },
        after=None,
    ),
    "project token created": Case(
        change=lambda c, _: project_token(c),
        kind="project_token",
        action="created",
        before=None,
        after={"name": "deploy-bot", "state": "active"},
    ),
    "project token revoked": Case(
        setup=project_token,
        change=lambda c, token: revoke_api_token(token, by=c.rita),
        kind="project_token",
        action="revoked",
        before={"name": "deploy-bot", "state": "active"},
        after={"name": "deploy-bot", "state": "revoked"},
    ),
    "personal token created": Case(
        change=lambda c, _: create_api_token(by=c.rita, name="laptop"),
        kind="personal_token",
        action="created",
        before=None,
        after={"name": "laptop", "state": "active"},
        personal=True,
    ),
    "personal token revoked": Case(
        setup=lambda c: create_api_token(by=c.rita, name="laptop")[0],
        change=lambda c, token: revoke_api_token(token, by=c.rita),
        kind="personal_token",
        action="revoked",
        before={"name": "laptop", "state": "active"},
        after={"name": "laptop", "state": "revoked"},
        personal=True,
    ),
    "train added": Case(
        change=lambda c, _: train(c, active=False),
        kind="train",
        action="added",
        before=None,
        after={
            "name": "Fortnightly",
            "kind": "standard",
            "cadence_weeks": 2,
            "first_deploy_date": "2026-11-17",
            "deploy_time": "14:00:00",
            "deploy_duration_minutes": 120,
            "timezone": "Europe/Berlin",
            "code_freeze_days_before": 2,
            "go_no_go_hours_before": 4,
            "create_days_ahead": 14,
            "freeze_reminder_hours": 24,
            "version_template": "{date:%Y.%m.%d}",
            "active": False,
        },
    ),
    "train changed": Case(
        setup=train,
        change=lambda c, t: trains.save_train(c.project, by=c.rita, train=t, cadence_weeks=1),
        kind="train",
        action="changed",
        before={"cadence_weeks": 2},
        after={"cadence_weeks": 1},
    ),
    "train departure skipped": Case(
        setup=lambda c: train(c, active=False),
        change=lambda c, t: trains.skip_slot(t, dt.date(2026, 12, 1), by=c.rita, reason="Holiday"),
        kind="train",
        action="slot_skipped",
        before={"departure": "2026-12-01", "state": "scheduled"},
        after={"departure": "2026-12-01", "state": "skipped"},
    ),
    "rollback webhook secret rotated": Case(
        change=lambda c, _: rotate_rollback_webhook_secret(c.project, by=c.rita),
        kind="rollback_settings",
        action="rotated",
        before={"rollback_webhook_secret": ""},
        after={"rollback_webhook_secret": "credentials changed"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_it_records_each_project_change_as_one_event(cast, name):
    case = CASES[name]
    subject = case.setup(cast)
    since = last_pk()

    case.change(cast, subject)

    events = events_since(since)
    assert [(e.kind, e.action) for e in events] == [(case.kind, case.action)]
    event = events[0]
    assert event.actor == cast.rita
    assert event.project_id == (None if case.personal else cast.project.pk)
    assert event.before == case.before
    assert event.after == case.after
    assert event.summary


def test_it_records_creating_a_project_with_its_creator(db):
    ursula = make_user("ursula")

    project = create_project(name="Shipping", slug="shipping", by=ursula)

    [event] = ProjectEvent.objects.filter(project=project)
    assert (event.kind, event.action, event.actor) == ("project", "added", ursula)
    assert event.after is not None
    assert event.after["name"] == "Shipping"


def test_it_names_the_changed_fields_in_the_summary(cast):
    since = last_pk()
    update_policy(cast.project, by=cast.rita, separation_of_duties=False)
    update_project(cast.project, by=cast.rita, slack_webhook_url=SLACK_URL)

    summaries = [e.summary for e in events_since(since)]
    assert summaries == [
        f"Approval policy “Approval policy of {cast.project}” changed: separation of duties",
        "Project settings “Payments” changed: credentials",
    ]


def test_it_writes_nothing_when_nothing_changes(cast):
    window = freeze(cast)
    ensure_policy(cast.project)
    since = last_pk()

    update_project(cast.project, by=cast.rita, name="Payments")
    save_freeze_window(cast.project, by=cast.rita, window=window, reason="Black Friday")
    set_project_roles(cast.project, cast.dana, ["devops"], by=cast.rita)
    set_role_requirement(cast.project, by=cast.rita, release_kind="standard", role="qa", quorum=1)
    update_policy(cast.project, by=cast.rita, separation_of_duties=True)

    assert events_since(since) == []


def other_projects_integration(cast: Cast) -> Integration:
    other = create_project(name="Other", slug="other", by=None)
    return Integration.objects.create(project=other, name="Elsewhere", kind="push")


# name → (what is set up first, the change that fails)
FAILING_CHANGES: dict[str, tuple[Callable[[Cast], Any], Callable[[Cast, Any], Any]]] = {
    "invalid policy": (
        lambda c: ensure_policy(c.project),
        lambda c, _: update_policy(c.project, by=c.rita, sign_off_expiry_days=0),
    ),
    "quorum too high": (
        lambda c: ensure_policy(c.project),
        lambda c, _: set_role_requirement(
            c.project, by=c.rita, release_kind="standard", role="qa", quorum=99
        ),
    ),
    "freeze window ending before it starts": (
        lambda c: None,
        lambda c, _: freeze(c, ends_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
    ),
    "train with a taken name": (train, lambda c, _: train(c, active=False)),
    "integration missing a credential": (lambda c: None, lambda c, _: github(c, secrets={})),
    "integration renamed to a taken name": (
        github,
        lambda c, integration: github(c, integration=integration, name="CI"),
    ),
    "check template on another project's integration": (
        other_projects_integration,
        lambda c, elsewhere: check_template(c, integration=elsewhere),
    ),
    "project details out of bounds": (
        lambda c: None,
        lambda c, _: update_project(c.project, by=c.rita, monitoring_minutes_standard=0),
    ),
    "token without a name": (
        lambda c: None,
        lambda c, _: create_api_token(by=c.rita, name=" "),
    ),
    "integration deleted by a developer": (
        lambda c: None,
        lambda c, _: delete_integration(c.ci, by=c.devin),
    ),
    "integration deleted while releases read it": (
        lambda c: make_release(c),
        lambda c, _: delete_integration(c.ci, by=c.rita),
    ),
}


@pytest.mark.parametrize("name", list(FAILING_CHANGES))
def test_it_writes_no_event_for_a_change_that_fails(cast, name):
    setup, change = FAILING_CHANGES[name]
    subject = setup(cast)
    since = last_pk()

    with pytest.raises((ValidationError, NotAllowed, Refused)):
        change(cast, subject)

    assert [e.summary for e in events_since(since)] == []


def test_it_records_a_revoked_token_once(cast):
    token = project_token(cast)
    revoke_api_token(token, by=cast.rita)
    since = last_pk()

    revoke_api_token(token, by=cast.dana)

    assert events_since(since) == []


def test_it_never_writes_a_credential_into_the_log(cast):
    integration = github(cast, secrets={"token": GITHUB_TOKEN, "webhook_secret": "hook-secret-9"})
    github(cast, integration=integration, secrets={"token": "ghp_SecondSecretValue"})
    ciphertext = Integration.objects.get(pk=integration.pk).secrets_encrypted
    update_project(cast.project, by=cast.rita, slack_webhook_url=SLACK_URL)
    token, token_secret = create_api_token(by=cast.rita, name="ci", project=cast.project)
    _, personal_secret = create_api_token(by=cast.rita, name="laptop")
    rollback_secret = rotate_rollback_webhook_secret(cast.project, by=cast.rita)
    delete_integration(integration, by=cast.rita)

    log = json.dumps(
        [[e.summary, e.before, e.after, e.data] for e in ProjectEvent.objects.order_by("pk")]
    )
    for secret in (
        GITHUB_TOKEN,
        "hook-secret-9",
        "ghp_SecondSecretValue",
        ciphertext,
        SLACK_URL,
        "SuperSecretPath42",
        token_secret,
        token.hashed_secret,
        personal_secret,
        rollback_secret,
    ):
        assert secret not in log
    assert "credentials changed" in log


def test_it_audits_every_setting_of_the_policy_including_ones_added_later(db):
    # The diff walks the model's fields, so a policy setting added to the model is audited
    # without touching the log: only the key, the project and the timestamp are left out.
    names = {field.name for field in audited_fields(ApprovalPolicy)}
    every = {field.name for field in ApprovalPolicy._meta.concrete_fields}
    assert names == every - {"id", "project", "updated_at"}
    assert "separation_of_duties" in names


def test_it_leaves_out_what_the_poller_keeps_up_to_date(db):
    integration = {field.name for field in audited_fields(Integration)}
    check = {field.name for field in audited_fields(Check)}
    assert "circuit_state" not in integration
    assert "secrets_encrypted" in integration
    assert "status" not in check
    assert "threshold" in check
    assert {field.name for field in audited_fields(ChecklistTemplate)} >= {"title", "required"}


def test_it_keeps_events_append_only(cast):
    update_project(cast.project, by=cast.rita, name="Payments EU")
    event = ProjectEvent.objects.get(project=cast.project, action="changed")

    event.summary = "nothing happened"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        ProjectEvent.objects.filter(pk=event.pk).update(summary="nothing happened")
    with pytest.raises(TypeError, match="append-only"):
        ProjectEvent.objects.filter(pk=event.pk).delete()
    assert ProjectEvent.objects.get(pk=event.pk).summary != "nothing happened"


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_log_outside_the_change_transaction(cast):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        log_project_event(
            cast.project, actor=cast.rita, kind="project", action="changed", summary="Sneaky"
        )
    assert not ProjectEvent.objects.filter(summary="Sneaky").exists()


def test_it_keeps_the_name_of_someone_whose_account_was_deleted(cast):
    update_project(cast.project, by=cast.dana, description="Dana was here")
    cast.dana.delete()

    event = ProjectEvent.objects.get(project=cast.project, after={"description": "Dana was here"})
    assert event.actor is None
    assert event.actor_name == "dana"
    assert list(ProjectEvent.objects.filter(project=cast.project).by_actor("dana")) == [event]


def test_it_names_the_check_templates_that_go_with_a_deleted_integration(cast):
    since = last_pk()

    delete_integration(cast.ci, by=cast.rita)

    [event] = events_since(since)
    assert (event.kind, event.action) == ("integration", "removed")
    assert event.data["check_templates"] == ["CI green"]


def test_it_adds_a_team_at_once_with_the_event_each_member_would_get(cast):
    ursula, umar = make_user("ursula"), make_user("umar")
    since = last_pk()

    add_members(cast.project, {ursula: ["qa"], umar: ["dev", "devops"]}, by=cast.rita)

    assert set(cast.project.memberships.values_list("user__username", "role")) >= {
        ("ursula", "qa"),
        ("umar", "dev"),
        ("umar", "devops"),
    }
    assert [(e.action, e.summary, e.after) for e in events_since(since)] == [
        ("added", "ursula added as: QA", {"roles": ["qa"]}),
        ("added", "umar added as: Developer, DevOps", {"roles": ["dev", "devops"]}),
    ]


def test_it_refuses_a_team_with_a_member_already_in_it_and_adds_no_one(cast):
    ursula = make_user("ursula")
    since = last_pk()

    with pytest.raises(ValidationError):
        add_members(cast.project, {ursula: ["qa"], cast.paul: ["qa"]}, by=cast.rita)

    assert not cast.project.memberships.filter(user=ursula).exists()
    assert events_since(since) == []
