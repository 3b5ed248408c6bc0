"""Every endpoint × every kind of caller → the expected status, and nothing leaks.

The cast: rita release manager, paul product, quinn QA, dana DevOps, devin developer, vic viewer,
otto outsider, an anonymous caller, a project token of another project, and this project's own
token. Outsiders and the foreign token get 404 (never 403, never data); anonymous gets 401; a
refused request changes nothing. What belongs to no project (creating one, your notifications)
has nothing to hide: whoever may not gets 403.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from approvals.models import ApprovalPolicy, Decision, RoleRequirement, SignOff
from approvals.services.sign_offs import record_sign_off
from chat.models import SlackApp
from gate.services import providers
from monitoring.models import (
    Check,
    CheckResult,
    CommitRange,
    FeatureFlag,
    FlagSwitch,
    Integration,
    RangeChange,
    RollbackTrigger,
    RollbackWebhookSecret,
    ScopeSource,
    TrackedItem,
)
from monitoring.services import flags, health
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.results import record_check_result
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    FreezeWindow,
    Incident,
    Notification,
    Project,
    ProjectEvent,
    ProjectMembership,
    Release,
    ReleaseEvent,
    ReleaseTrain,
    Review,
    RoleAssignment,
    RollbackPlan,
    ScopeChangeRequest,
    ScopeItem,
    TrainSlot,
)
from releases.notifications import notify
from releases.services import trains
from releases.services.checklists import tick_checklist_item
from releases.services.freeze_windows import save_freeze_window
from releases.services.incidents import record_incident
from releases.services.lifecycle import complete_release, lock_scope, mark_health
from releases.services.review import add_review_action, save_review
from releases.services.rollback import roll_back
from releases.services.scope import (
    add_scope_item,
    reject_change_request,
    request_scope_change,
    set_scope_item_state,
)
from subscriptions import services as webhooks
from subscriptions.models import Delivery, Subscription
from tests.api.conftest import PRINCIPALS, bearer, foreign_token, project_token
from tests.builders import (
    Cast,
    Rewind,
    compare_commits,
    make_approved,
    make_deploying,
    make_monitoring,
    make_ready,
    make_release,
    sessions,
    signed_in,
)
from tests.gate.stand_ins import rsa_key_pair

pytestmark = pytest.mark.django_db

MEMBERS = frozenset({"rita", "paul", "quinn", "dana", "devin", "vic"})
PEOPLE = MEMBERS | {"otto"}
OUTSIDERS = frozenset({"otto", "foreign_token"})
WORKERS = frozenset({"rita", "paul", "quinn", "dana", "devin"})
SCOPE_EDITORS = frozenset({"rita", "paul", "devin", "own_token"})
DEPLOYERS = frozenset({"rita", "dana"})
# Connecting CI and monitoring is DevOps' job; release managers may too.
CONFIGURERS = frozenset({"rita", "dana"})
# Recording what went wrong after a deploy: the people who watch it, and the project's token
# that incident tools report through.
INCIDENT_RECORDERS = frozenset({"rita", "quinn", "dana", "own_token"})
# Naming a scope item's feature flag: whoever edits the scope or the checks, in person.
FLAG_NAMERS = frozenset({"rita", "paul", "devin", "dana"})


# --- worlds: a release in the state an operation needs --------------------------------------


def _ids(cast: Cast, release: Release) -> dict[str, Any]:
    release.refresh_from_db()
    qa_item = release.checklist_items.get(title="Critical flows pass")
    return {
        "release": release.pk,
        "item": release.scope_items.order_by("pk")[0].pk,
        "checklist": qa_item.pk,
        "assignment": release.assignments.get(user=cast.vic).pk,
        "check": release.checks.get(name="CI green").pk,
        "member": cast.vic.pk,
        "integration": cast.ci.pk,
        "template": Check.objects.get(project=cast.project, release__isnull=True).pk,
        "checklist_template": cast.project.checklist_templates.order_by("pk")[0].pk,
    }


def planning(cast: Cast) -> dict[str, Any]:
    return _ids(cast, make_release(cast))


def frozen(cast: Cast) -> dict[str, Any]:
    release = make_release(cast)
    lock_scope(release, by=cast.rita)
    return _ids(cast, release)


def frozen_ready(cast: Cast) -> dict[str, Any]:
    return _ids(cast, make_ready(make_release(cast), cast))


def frozen_signed(cast: Cast) -> dict[str, Any]:
    ids = frozen(cast)
    record_sign_off(Release.objects.get(pk=ids["release"]), by=cast.quinn, role="qa", decision="go")
    return ids


def frozen_change(cast: Cast) -> dict[str, Any]:
    ids = frozen(cast)
    change = request_scope_change(
        Release.objects.get(pk=ids["release"]),
        by=cast.devin,
        action="add",
        reason="A late fix",
        proposal={"title": "Late fix"},
    )
    return ids | {"change": change.pk}


def approved(cast: Cast) -> dict[str, Any]:
    return _ids(cast, make_approved(make_release(cast), cast))


def deploying(cast: Cast) -> dict[str, Any]:
    release = make_deploying(make_release(cast), cast)
    for item in release.checklist_items.filter(phase="deployment"):
        tick_checklist_item(item, by=cast.dana, note="green")
    return _ids(cast, release)


def window_passed(cast: Cast) -> dict[str, Any]:
    release = make_monitoring(make_release(cast), cast)
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    return _ids(cast, release)


def _health_check(cast: Cast, release: Release) -> Check:
    """A post-release check of the error rate, not required, that a trigger can watch."""
    return save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name="Error rate",
        phase="post_release",
        required=False,
        comparator="lt",
        threshold=0.02,
    )


def watched(cast: Cast) -> dict[str, Any]:
    """In its monitoring window, with a post-release check and no trigger yet."""
    release = make_monitoring(make_release(cast), cast)
    return _ids(cast, release) | {"health_check": _health_check(cast, release).pk}


def unhealthy(cast: Cast) -> dict[str, Any]:
    """In monitoring, marked unhealthy by a breach that has since cleared."""
    ids = watched(cast)
    mark_health(
        Release.objects.get(pk=ids["release"]), "unhealthy", by="Greenlight", reason="5xx spike"
    )
    return ids


def with_trigger(cast: Cast) -> dict[str, Any]:
    ids = watched(cast)
    trigger = health.add_rollback_trigger(
        Release.objects.get(pk=ids["release"]),
        by=cast.dana,
        check=Check.objects.get(pk=ids["health_check"]),
        mode="recommend",
    )
    return ids | {"trigger": trigger.pk}


def _flag(cast: Cast, release: Release) -> dict[str, Any]:
    launchdarkly = save_integration(
        cast.project,
        by=cast.dana,
        name="LaunchDarkly",
        kind="launchdarkly",
        config={"project": "shop"},
        secrets={"token": "api-x"},
    )
    flag = flags.bind_flag(
        release.scope_items.order_by("pk")[0],
        by=cast.devin,
        integration=launchdarkly,
        key="new-checkout",
    )
    return {"flag": flag.pk, "flag_integration": launchdarkly.pk}


def flagged(cast: Cast) -> dict[str, Any]:
    """In its monitoring window, with a post-release check and a scope item's flag."""
    ids = watched(cast)
    return ids | _flag(cast, Release.objects.get(pk=ids["release"]))


def released(cast: Cast) -> dict[str, Any]:
    ids = window_passed(cast)
    complete_release(Release.objects.get(pk=ids["release"]), by=cast.rita)
    return ids


def rolled_back(cast: Cast) -> dict[str, Any]:
    release = make_deploying(make_release(cast), cast)
    roll_back(release, by=cast.dana, reason="Error rate doubled")
    return _ids(cast, release)


def with_review_action(cast: Cast) -> dict[str, Any]:
    ids = released(cast)
    action = add_review_action(
        Release.objects.get(pk=ids["release"]),
        by=cast.rita,
        description="Alert on card declines",
        owner=cast.devin,
    )
    return ids | {"action": action.pk}


def with_incident(cast: Cast) -> dict[str, Any]:
    ids = released(cast)
    incident = record_incident(
        Release.objects.get(pk=ids["release"]), by=cast.dana, title="Errors", severity="sev3"
    )
    return ids | {"incident": incident.pk}


def pagerduty_incident(ids: dict[str, Any]) -> dict[str, Any]:
    """PagerDuty's incident fields (REST API v2, as listed in the reference notes on incident
    tools), with the release's version added by whoever relays it."""
    return {
        "version": "1.0.0",
        "id": "PT4KHLK",
        "incident_number": 1234,
        "title": "The server is on fire.",
        "status": "triggered",
        "urgency": "high",
        "created_at": timezone.now().isoformat(),
        "html_url": "https://acme.pagerduty.com/incidents/PT4KHLK",
    }


def opsgenie_alert(ids: dict[str, Any]) -> dict[str, Any]:
    """What Opsgenie's Webhook integration posts when an alert is created (Opsgenie's alert
    action data), tagged with the release's version."""
    return {
        "action": "Create",
        "alert": {
            "alertId": "052652ac-5d1c-464a-812a-7dd18bbfba8c",
            "message": "Checkout error rate above 5 %",
            "tags": ["version:1.0.0"],
            "tinyId": "23",
            "createdAt": int(timezone.now().timestamp() * 1000),
            "priority": "P2",
        },
        "source": {"name": "web", "type": "API"},
        "integrationName": "Greenlight",
    }


def ticked(cast: Cast) -> dict[str, Any]:
    ids = planning(cast)
    tick_checklist_item(ChecklistItem.objects.get(pk=ids["checklist"]), by=cast.quinn, note="ok")
    return ids


def deferred(cast: Cast) -> dict[str, Any]:
    ids = planning(cast)
    set_scope_item_state(ScopeItem.objects.get(pk=ids["item"]), "deferred", by=cast.rita)
    return ids


def blocker_risk(cast: Cast) -> dict[str, Any]:
    ids = planning(cast)
    item = add_scope_item(
        Release.objects.get(pk=ids["release"]), by=cast.rita, title="Card outage", risk="blocker"
    )
    return ids | {"item": item.pk}


def needs_judgement(cast: Cast) -> dict[str, Any]:
    ids = planning(cast)
    record_check_result(Check.objects.get(pk=ids["check"]), status="needs_judgement", source="api")
    return ids


def spare_integration(cast: Cast) -> dict[str, Any]:
    """An integration no release reads yet, so it may be deleted."""
    spare = save_integration(cast.project, by=cast.rita, name="Status page", kind="http_health")
    return planning(cast) | {"integration": spare.pk}


# Nothing listens there: reading a tracker or a Git host fails at once, and fails closed.
NOBODY = "http://127.0.0.1:9"


def with_tracker(cast: Cast) -> dict[str, Any]:
    jira = save_integration(
        cast.project,
        by=cast.rita,
        name="Jira",
        kind="jira",
        base_url=NOBODY,
        secrets={"email": "rita@example.com", "token": "atl-token"},
    )
    return planning(cast) | {"tracker": jira.pk}


def with_scope_source(cast: Cast) -> dict[str, Any]:
    ids = with_tracker(cast)
    source = ScopeSource.objects.create(
        release_id=ids["release"], integration_id=ids["tracker"], source="jql", query="x"
    )
    return ids | {"source": source.pk}


def with_unplanned_change(cast: Cast) -> dict[str, Any]:
    """Frozen, with a commit range holding one change no scope item covers."""
    github = compare_commits(cast, NOBODY, released_base=False)
    ids = frozen(cast)
    commit_range = CommitRange.objects.get_or_create(release_id=ids["release"])[0]
    CommitRange.objects.filter(pk=commit_range.pk).update(
        integration=github, base_sha="b" * 40, head_sha="a" * 40, read_at=timezone.now()
    )
    change = RangeChange.objects.create(
        commit_range=commit_range, ref="cccccccccc", title="Raise the timeout", shas=["c" * 40]
    )
    return ids | {"change": change.pk}


def polled_check(cast: Cast) -> dict[str, Any]:
    health = save_integration(cast.project, by=cast.rita, name="Health", kind="http_health")
    ids = planning(cast)
    check = save_release_check(
        Release.objects.get(pk=ids["release"]),
        by=cast.rita,
        integration=health,
        name="Health endpoint",
        params={"url": "https://shop.example.com/healthz"},
    )
    return ids | {"check": check.pk}


APP_KEY, _ = rsa_key_pair()


def _github_app(cast: Cast) -> None:
    providers.save_github_app(
        cast.project, by=cast.dana, app_id="1", private_key=APP_KEY, webhook_secret="s"
    )


def with_slack_app(cast: Cast) -> dict[str, Any]:
    app = SlackApp(project=cast.project)
    app.set_secrets(bot_token="xoxb-1-2-3", signing_secret="s")
    app.save()
    return planning(cast)


def with_github_app(cast: Cast) -> dict[str, Any]:
    _github_app(cast)
    return planning(cast)


def with_gitlab(cast: Cast) -> dict[str, Any]:
    gitlab = save_integration(
        cast.project,
        by=cast.dana,
        name="GitLab",
        kind="gitlab",
        config={"project": "7"},
        secrets={"token": "glpat-x"},
    )
    return planning(cast) | {"integration": gitlab.pk}


def _window(cast: Cast) -> int:
    start = timezone.now() + dt.timedelta(days=30)
    return save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Black Friday",
        recurrence="once",
        starts_at=start,
        ends_at=start + dt.timedelta(days=3),
    ).pk


def with_window(cast: Cast) -> dict[str, Any]:
    return planning(cast) | {"window": _window(cast)}


def _train(cast: Cast) -> tuple[ReleaseTrain, dt.date]:
    """A weekly train whose next departure's release beat has already created."""
    departure = timezone.now().date() + dt.timedelta(days=7)
    train = trains.save_train(
        cast.project, by=cast.rita, name="Weekly", cadence_weeks=1, first_deploy_date=departure
    )
    trains.ensure_slot(train, departure)
    return train, departure


def with_train(cast: Cast) -> dict[str, Any]:
    train, departure = _train(cast)
    return planning(cast) | {"train": train.pk, "departure": departure.isoformat()}


def with_webhook(cast: Cast) -> dict[str, Any]:
    """An outgoing webhook with one failed delivery, which may be sent again."""
    ids = planning(cast)
    subscription, _ = webhooks.create_subscription(
        cast.project,
        by=cast.rita,
        name="Deploy board",
        target_url="https://hooks.example.com/greenlight",
        events=["released"],
    )
    failed = Delivery.objects.create(
        subscription=subscription, event="released", body="{}", state=Delivery.State.FAILED
    )
    return ids | {"webhook": subscription.pk, "delivery": failed.pk}


def with_notifications(cast: Cast) -> dict[str, Any]:
    """Unread notifications for every person, outsiders included."""
    people = [cast.rita, cast.paul, cast.quinn, cast.dana, cast.devin, cast.vic, cast.otto]
    for person in people:
        notify([person], release=None, verb="note", message=f"For {person.username} only")
    return planning(cast) | {
        "notifications": list(Notification.objects.values_list("pk", flat=True))
    }


# --- the operations that change something ---------------------------------------------------


@dataclass(frozen=True)
class Op:
    method: str
    url: str
    world: Callable[[Cast], dict[str, Any]]
    allowed: AbstractSet[str]
    body: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] | None = None
    success: int = 200
    # Whether a success writes anything (trying a connection to a push-only integration does
    # not).
    writes: bool = True
    # About no project (creating one, your own notifications): outsiders are refused like
    # everyone else without the right, with 403, since there is nothing to hide.
    unscoped: bool = False

    def expected(self, who: str) -> int:
        if who == "anonymous":
            return 401
        if who in OUTSIDERS and not self.unscoped:
            return 404
        return self.success if who in self.allowed else 403


R = "/api/releases/{release}/"
FREEZE = {
    "reason": "Quarter close",
    "recurrence": "once",
    "starts_at": "2031-03-28T00:00:00Z",
    "ends_at": "2031-04-01T00:00:00Z",
}

WRITES: dict[str, Op] = {
    # Administrators only (and whoever they give ``releases.add_project``): nobody in the cast.
    "create project": Op(
        "post",
        "/api/projects/",
        planning,
        frozenset(),
        {"name": "Refunds", "slug": "refunds"},
        201,
        unscoped=True,
    ),
    "add member": Op(
        "post",
        "/api/projects/payments/members/",
        planning,
        {"rita"},
        {"username": "otto", "roles": ["qa"]},
        201,
    ),
    "create checklist template": Op(
        "post",
        "/api/projects/payments/checklist-templates/",
        planning,
        {"rita"},
        {"title": "Feature flags off", "owner_role": "devops"},
        201,
    ),
    "update checklist template": Op(
        "patch",
        "/api/projects/payments/checklist-templates/{checklist_template}/",
        planning,
        {"rita"},
        {"required": False},
    ),
    "delete checklist template": Op(
        "delete",
        "/api/projects/payments/checklist-templates/{checklist_template}/",
        planning,
        {"rita"},
        success=204,
    ),
    "create train": Op(
        "post",
        "/api/projects/payments/trains/",
        planning,
        {"rita"},
        {"name": "Fortnightly", "first_deploy_date": "2031-01-07", "timezone": "Europe/Berlin"},
        201,
    ),
    "update train": Op(
        "patch", "/api/projects/payments/trains/{train}/", with_train, {"rita"}, {"active": False}
    ),
    "skip departure": Op(
        "post",
        "/api/projects/payments/trains/{train}/skip/",
        with_train,
        {"rita"},
        lambda ids: {"deploy_date": ids["departure"], "reason": "Team offsite"},
    ),
    "mark notifications read": Op(
        "post",
        "/api/notifications/read/",
        with_notifications,
        PEOPLE,
        lambda ids: {"ids": ids["notifications"]},
        unscoped=True,
    ),
    "mark all notifications read": Op(
        "post", "/api/notifications/read-all/", with_notifications, PEOPLE, unscoped=True
    ),
    "update project": Op(
        "patch", "/api/projects/payments/", planning, {"rita"}, {"description": "Card payments"}
    ),
    "set member roles": Op(
        "put",
        "/api/projects/payments/members/{member}/",
        planning,
        {"rita"},
        {"roles": ["viewer", "qa"]},
    ),
    "update approval policy": Op(
        "patch",
        "/api/projects/payments/approval-policy/",
        planning,
        {"rita"},
        {
            "sign_off_expiry_days": 7,
            "requirements": [{"release_kind": "hotfix", "role": "qa", "quorum": 1}],
        },
    ),
    "set deploy environments": Op(
        "put",
        "/api/projects/payments/deploy-environments/",
        planning,
        {"rita"},
        {"deploy_environments": {"prod": "production"}},
    ),
    "create freeze window": Op(
        "post", "/api/projects/payments/freeze-windows/", planning, {"rita"}, FREEZE, 201
    ),
    "update freeze window": Op(
        "patch",
        "/api/projects/payments/freeze-windows/{window}/",
        with_window,
        {"rita"},
        {"reason": "Moved"},
    ),
    "delete freeze window": Op(
        "delete",
        "/api/projects/payments/freeze-windows/{window}/",
        with_window,
        {"rita"},
        success=204,
    ),
    "create integration": Op(
        "post",
        "/api/projects/payments/integrations/",
        planning,
        CONFIGURERS,
        {"name": "Uptime", "kind": "http_health", "secrets": {"token": "s3cr3t"}},
        201,
    ),
    "update integration": Op(
        "patch",
        "/api/projects/payments/integrations/{integration}/",
        planning,
        CONFIGURERS,
        {"name": "CI pipeline"},
    ),
    "delete integration": Op(
        "delete",
        "/api/projects/payments/integrations/{integration}/",
        spare_integration,
        CONFIGURERS,
        success=204,
    ),
    "test integration": Op(
        "post",
        "/api/projects/payments/integrations/{integration}/test/",
        planning,
        CONFIGURERS,
        writes=False,
    ),
    "reveal rollback webhook secret": Op(
        "post", "/api/projects/payments/rollback-webhook-secret/reveal/", planning, {"rita"}
    ),
    "rotate rollback webhook secret": Op(
        "post", "/api/projects/payments/rollback-webhook-secret/rotate/", planning, {"rita"}
    ),
    "create webhook": Op(
        "post",
        "/api/projects/payments/webhooks/",
        planning,
        CONFIGURERS,
        {"name": "Board", "target_url": "https://hooks.example.com/", "events": ["released"]},
        201,
    ),
    "change webhook": Op(
        "patch",
        "/api/projects/payments/webhooks/{webhook}/",
        with_webhook,
        CONFIGURERS,
        {"active": False},
    ),
    "delete webhook": Op(
        "delete",
        "/api/projects/payments/webhooks/{webhook}/",
        with_webhook,
        CONFIGURERS,
        success=204,
    ),
    "rotate webhook secret": Op(
        "post",
        "/api/projects/payments/webhooks/{webhook}/rotate-secret/",
        with_webhook,
        CONFIGURERS,
    ),
    "redeliver webhook delivery": Op(
        "post",
        "/api/projects/payments/webhooks/{webhook}/deliveries/{delivery}/redeliver/",
        with_webhook,
        CONFIGURERS,
        success=202,
    ),
    # Reads that only the people who manage webhooks may make: targets and receivers' answers.
    "list webhooks": Op(
        "get", "/api/projects/payments/webhooks/", with_webhook, CONFIGURERS, writes=False
    ),
    "read webhook": Op(
        "get",
        "/api/projects/payments/webhooks/{webhook}/",
        with_webhook,
        CONFIGURERS,
        writes=False,
    ),
    "list webhook deliveries": Op(
        "get",
        "/api/projects/payments/webhooks/{webhook}/deliveries/",
        with_webhook,
        CONFIGURERS,
        writes=False,
    ),
    "create check template": Op(
        "post",
        "/api/projects/payments/checks/",
        planning,
        CONFIGURERS,
        lambda ids: {"name": "Lint", "integration": ids["integration"]},
        201,
    ),
    "update check template": Op(
        "patch",
        "/api/projects/payments/checks/{template}/",
        planning,
        CONFIGURERS,
        {"required": False},
    ),
    "delete check template": Op(
        "delete", "/api/projects/payments/checks/{template}/", planning, CONFIGURERS, success=204
    ),
    "create release": Op(
        "post",
        "/api/releases/",
        planning,
        {"rita", "own_token"},
        {"project": "payments", "version": "9.0.0"},
        201,
    ),
    "update release": Op("patch", R, planning, {"rita"}, {"title": "Spring"}),
    "lock scope": Op("post", R + "lock-scope/", planning, {"rita"}),
    "cancel": Op("post", R + "cancel/", planning, {"rita"}, {"reason": "Merged into 2.0"}),
    "start deploy": Op("post", R + "start-deploy/", approved, DEPLOYERS, {}),
    "finish deploy": Op("post", R + "finish-deploy/", deploying, DEPLOYERS),
    # Marking released is the release manager's call (the page offers it to no one else).
    "complete": Op("post", R + "complete/", window_passed, {"rita"}),
    "roll back": Op("post", R + "roll-back/", deploying, DEPLOYERS, {"reason": "5xx spike"}),
    "restore health": Op(
        "post", R + "restore-health/", unhealthy, DEPLOYERS, {"reason": "Errors back at 0.1 %"}
    ),
    "report deploy": Op(
        "post",
        R + "deploy-reports/",
        approved,
        {"rita", "dana", "own_token"},
        {"stage": "started", "detail": "pipeline 88"},
    ),
    "finish rollback": Op(
        "post", R + "finish-rollback/", rolled_back, {"rita", "dana", "own_token"}, {}
    ),
    "carry scope forward": Op(
        "post", R + "carry-forward/", rolled_back, {"rita"}, {"version": "1.0.1"}, 201
    ),
    "add review action": Op(
        "post",
        R + "review/actions/",
        released,
        WORKERS,
        {"description": "Page on card declines", "owner": "dana"},
        201,
    ),
    "complete review action": Op(
        "post", R + "review/actions/{action}/complete/", with_review_action, WORKERS
    ),
    "add note": Op("post", R + "notes/", planning, WORKERS, {"text": "Vendor call at 3"}, 201),
    "record incident": Op(
        "post",
        R + "incidents/",
        released,
        INCIDENT_RECORDERS,
        {"title": "Checkout errors", "severity": "sev2"},
        201,
    ),
    "change incident": Op(
        "patch",
        R + "incidents/{incident}/",
        with_incident,
        INCIDENT_RECORDERS,
        {"severity": "sev1"},
    ),
    "report incident": Op(
        "post",
        "/api/projects/payments/incidents/",
        released,
        INCIDENT_RECORDERS,
        {
            "version": "1.0.0",
            "source": "opsgenie",
            "external_id": "og-7",
            "title": "Latency",
            "severity": "sev3",
        },
        201,
    ),
    "report pagerduty incident": Op(
        "post",
        "/api/projects/payments/incidents/pagerduty/",
        released,
        INCIDENT_RECORDERS,
        pagerduty_incident,
        201,
    ),
    "report opsgenie alert": Op(
        "post",
        "/api/projects/payments/incidents/opsgenie/",
        released,
        INCIDENT_RECORDERS,
        opsgenie_alert,
        201,
    ),
    "add scope": Op("post", R + "scope-items/", planning, SCOPE_EDITORS, {"title": "Refunds"}, 201),
    "edit scope": Op("patch", R + "scope-items/{item}/", planning, SCOPE_EDITORS, {"risk": "high"}),
    "defer scope": Op("post", R + "scope-items/{item}/defer/", planning, SCOPE_EDITORS),
    "restore scope": Op("post", R + "scope-items/{item}/restore/", deferred, SCOPE_EDITORS),
    "resolve risk": Op(
        "post",
        R + "scope-items/{item}/resolve-risk/",
        blocker_risk,
        {"rita", "paul"},
        {"resolution": "Fallback provider ready"},
    ),
    "request change": Op(
        "post",
        R + "change-requests/",
        frozen,
        WORKERS,
        {"action": "add", "reason": "Regulator asked", "proposal": {"title": "Consent log"}},
        201,
    ),
    "accept change": Op(
        "post", R + "change-requests/{change}/accept/", frozen_change, {"rita", "paul"}, {}
    ),
    "reject change": Op(
        "post",
        R + "change-requests/{change}/reject/",
        frozen_change,
        {"rita", "paul"},
        {"reason": "Next release"},
    ),
    "withdraw change": Op(
        "post", R + "change-requests/{change}/withdraw/", frozen_change, {"devin"}
    ),
    "assign role": Op(
        "post", R + "assignments/", planning, {"rita"}, {"user": "vic", "role": "qa"}, 201
    ),
    "unassign role": Op("delete", R + "assignments/{assignment}/", planning, {"rita"}, success=204),
    "tick": Op(
        "post",
        R + "checklist-items/{checklist}/tick/",
        planning,
        {"rita", "quinn"},
        {"note": "Suite 412 green", "url": "https://ci.example/412"},
    ),
    "untick": Op(
        "post",
        R + "checklist-items/{checklist}/untick/",
        ticked,
        {"rita", "quinn"},
        {"reason": "Flaky"},
    ),
    "import scope": Op(
        "post",
        R + "scope-sources/",
        with_tracker,
        SCOPE_EDITORS,
        lambda ids: {"integration": ids["tracker"], "source": "jql", "query": "project = PAY"},
        201,
    ),
    "sync scope source": Op(
        "post",
        R + "scope-sources/sync/",
        with_scope_source,
        SCOPE_EDITORS,
        lambda ids: {"source": ids["source"]},
    ),
    "stop following scope source": Op(
        "post",
        R + "scope-sources/remove/",
        with_scope_source,
        SCOPE_EDITORS,
        lambda ids: {"source": ids["source"]},
        204,
    ),
    "compare commits": Op(
        "post", R + "commit-range/read/", with_unplanned_change, WORKERS | {"own_token"}
    ),
    "accept unplanned change": Op(
        "post",
        R + "commit-range/accept/",
        with_unplanned_change,
        {"paul"},
        lambda ids: {"change": ids["change"], "as_role": "product"},
    ),
    "request scope change for unplanned change": Op(
        "post",
        R + "commit-range/change-request/",
        with_unplanned_change,
        WORKERS,
        lambda ids: {"change": ids["change"], "reason": "Needed under load"},
    ),
    "add rollback trigger": Op(
        "post",
        R + "rollback-triggers/",
        watched,
        DEPLOYERS,
        lambda ids: {"check": ids["health_check"], "mode": "recommend"},
        201,
    ),
    "change rollback trigger": Op(
        "patch",
        R + "rollback-triggers/{trigger}/",
        with_trigger,
        DEPLOYERS,
        {"description": "Error rate above 2 %"},
    ),
    "remove rollback trigger": Op(
        "delete", R + "rollback-triggers/{trigger}/", with_trigger, DEPLOYERS, success=204
    ),
    "name a flag": Op(
        "post",
        R + "flags/",
        flagged,
        FLAG_NAMERS,
        lambda ids: {
            "scope_item": ids["item"],
            "integration": ids["flag_integration"],
            "key": "one-click-pay",
        },
        201,
    ),
    "remove a flag": Op("delete", R + "flags/{flag}/", flagged, FLAG_NAMERS, success=204),
    "switch a flag off": Op(
        "post", R + "flags/{flag}/switch-off/", flagged, DEPLOYERS, {"reason": "errors"}, 202
    ),
    "read the flags now": Op(
        "post", R + "flags/read/", flagged, MEMBERS | {"own_token"}, success=202, writes=False
    ),
    "add flag trigger": Op(
        "post",
        R + "flag-triggers/",
        flagged,
        DEPLOYERS,
        lambda ids: {"check": ids["health_check"], "flag": ids["flag"], "mode": "automatic"},
        201,
    ),
    "edit rollback plan": Op(
        "patch", R + "rollback-plan/", planning, DEPLOYERS, {"revert_steps": "Redeploy 1.9"}
    ),
    "write review": Op("put", R + "review/", released, WORKERS, {"went_well": "Quiet deploy"}),
    "sign off": Op(
        "post", R + "sign-offs/", frozen, {"quinn"}, {"role": "qa", "decision": "go"}, 201
    ),
    "withdraw sign-off": Op(
        "post", R + "sign-offs/withdraw/", frozen_signed, {"quinn"}, {"role": "qa"}
    ),
    "open poll": Op("post", R + "poll/", frozen, {"rita"}),
    "record decision": Op("post", R + "decisions/", frozen_ready, {"rita"}, {"outcome": "go"}, 201),
    "report check result": Op(
        "post",
        R + "checks/{check}/results/",
        planning,
        {"rita", "dana", "own_token"},
        {"status": "passing", "value": "success"},
    ),
    "add check": Op(
        "post",
        R + "checks/",
        planning,
        DEPLOYERS,
        lambda ids: {"name": "Error rate", "integration": ids["integration"]},
        201,
    ),
    "change check": Op("patch", R + "checks/{check}/", planning, DEPLOYERS, {"hold_seconds": 300}),
    "remove check": Op("delete", R + "checks/{check}/", planning, DEPLOYERS, success=204),
    "poll check now": Op("post", R + "checks/{check}/poll-now/", polled_check, DEPLOYERS),
    "judge check": Op(
        "post",
        R + "checks/{check}/judge/",
        needs_judgement,
        {"rita", "dana", "quinn"},
        {"passed": True, "reason": "Dashboard checked by hand"},
    ),
    # The deploy gate: every member and the project's CI ask it; DevOps set up its providers.
    "ask the gate": Op(
        "post",
        "/api/projects/payments/gate/",
        approved,
        MEMBERS | {"own_token"},
        {"sha": "a" * 40, "environment": "production"},
    ),
    "set up the gate's github app": Op(
        "put",
        "/api/projects/payments/gate/github-app/",
        planning,
        CONFIGURERS,
        {"app_id": "1", "private_key": APP_KEY, "webhook_secret": "s"},
    ),
    "remove the gate's github app": Op(
        "delete",
        "/api/projects/payments/gate/github-app/",
        with_github_app,
        CONFIGURERS,
        success=204,
    ),
    # Slack: members read how it is connected; release managers connect it.
    "read the slack app": Op(
        "get",
        "/api/projects/payments/slack/",
        with_slack_app,
        MEMBERS | {"own_token"},
        writes=False,
    ),
    "change the slack app": Op(
        "put",
        "/api/projects/payments/slack/",
        with_slack_app,
        {"rita"},
        {"release_channel": "C0123456"},
    ),
    "remove the slack app": Op(
        "delete", "/api/projects/payments/slack/", with_slack_app, {"rita"}, success=204
    ),
    "choose gitlab approvals": Op(
        "put",
        "/api/projects/payments/gate/gitlab-approvals/",
        with_gitlab,
        CONFIGURERS,
        lambda ids: {"integration": ids["integration"]},
    ),
}

WATCHED = (
    Project,
    Integration,
    ProjectMembership,
    ChecklistTemplate,
    ReleaseTrain,
    TrainSlot,
    Notification,
    FreezeWindow,
    ApprovalPolicy,
    RoleRequirement,
    Release,
    ScopeItem,
    ScopeChangeRequest,
    RoleAssignment,
    ChecklistItem,
    RollbackPlan,
    RollbackTrigger,
    Review,
    Incident,
    SignOff,
    Decision,
    Check,
    CheckResult,
    ReleaseEvent,
    ProjectEvent,
    RollbackWebhookSecret,
    Subscription,
    Delivery,
    FeatureFlag,
    FlagSwitch,
    ScopeSource,
    TrackedItem,
    CommitRange,
    RangeChange,
)


def _selects() -> list[str]:
    quote = connection.ops.quote_name
    tables: list[Any] = []
    for model in WATCHED:
        tables.append(model._meta)
        for field in model._meta.many_to_many:
            tables.append(field.remote_field.through._meta)  # type: ignore[union-attr]
    return [
        f"SELECT * FROM {quote(table.db_table)} ORDER BY {quote(table.pk.column)}"
        for table in tables
    ]


# One statement per table, sent together: one round trip for all of them.
SELECTS = ";\n".join(_selects())


def fingerprint() -> list[list[tuple[Any, ...]]]:
    """Every row of the watched tables, column by column, many-to-many links included."""
    with connection.cursor() as cursor:
        cursor.execute(SELECTS)
        tables = [cursor.fetchall()]
        while cursor.nextset():
            tables.append(cursor.fetchall())
    return tables


def clients(cast: Cast) -> dict[str, APIClient]:
    """A client for every principal, as ``client_for`` makes them, the people signed in
    together."""
    people = [who for who in PRINCIPALS if who in PEOPLE]
    signed = {
        who: signed_in(APIClient(), session)
        for who, session in zip(
            people, sessions(*(getattr(cast, who) for who in people)), strict=True
        )
    }
    machines = {
        "anonymous": APIClient(),
        "foreign_token": bearer(foreign_token()),
        "own_token": bearer(project_token(cast)),
    }
    return {who: signed.get(who) or machines[who] for who in PRINCIPALS}


def assert_no_leak(response: Any) -> None:
    body = response.json()
    assert set(body) == {"detail"}, body
    text = json.dumps(body)
    for secret in ("1.0.0", "Feature 1", "PAY-1", "Payments"):
        assert secret not in text


@pytest.mark.parametrize("name", WRITES)
def test_it_answers_each_write_as_the_matrix_says(cast, name):
    """The operation's world is built once; after each caller knocks, the database is rolled
    back to a savepoint made before the first, so every one of them finds the world as it was
    built."""
    op = WRITES[name]
    ids = op.world(cast)
    body = op.body(ids) if callable(op.body) else op.body
    callers = clients(cast)  # the tokens exist from here on
    before = fingerprint()
    rewind = Rewind()
    for who, client in callers.items():
        cache.clear()  # rate limits and cached fragments never carry over from one caller
        response = getattr(client, op.method)(op.url.format(**ids), body, format="json")

        assert response.status_code == op.expected(who), (name, who, response.content[:300])
        if response.status_code >= 400:
            assert_no_leak(response)
            assert fingerprint() == before, f"{name} refused for {who} but changed data"
        elif op.writes:
            assert fingerprint() != before, f"{name} succeeded for {who} but changed nothing"
        rewind()


# --- reads ----------------------------------------------------------------------------------


def rich(cast: Cast) -> dict[str, Any]:
    """A released release with every kind of record an endpoint can show."""
    release = make_release(cast)
    lock_scope(release, by=cast.rita)
    change = request_scope_change(
        release, by=cast.devin, action="add", reason="Late", proposal={"title": "Late fix"}
    )
    reject_change_request(change, by=cast.rita, reason="Next time")
    release.refresh_from_db()
    make_monitoring(release, cast)
    trigger = health.add_rollback_trigger(
        release, by=cast.dana, check=_health_check(cast, release), mode="recommend"
    )
    flag = _flag(cast, release)["flag"]
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    complete_release(release, by=cast.rita)
    save_review(release, by=cast.rita, went_well="Calm")
    _github_app(cast)
    CommitRange.objects.create(release=release, read_at=timezone.now())
    train, _ = _train(cast)
    return _ids(cast, release) | {
        "trigger": trigger.pk,
        "flag": flag,
        "train": train.pk,
        "window": _window(cast),
        "decision": Decision.objects.get(release=release).pk,
    }


READS = [
    "/api/projects/payments/",
    "/api/projects/payments/members/",
    "/api/projects/payments/approval-policy/",
    "/api/projects/payments/deploy-environments/",
    "/api/projects/payments/freeze-windows/",
    "/api/projects/payments/freeze-windows/{window}/",
    R,
    R + "readiness/",
    R + "release-notes/",
    R + "events/",
    R + "scope-items/",
    R + "scope-items/{item}/",
    R + "change-requests/",
    R + "assignments/",
    R + "checklist-items/",
    R + "rollback-plan/",
    R + "rollback-triggers/",
    R + "rollback-triggers/{trigger}/",
    R + "scope-sources/",
    R + "commit-range/",
    R + "flags/",
    R + "flags/{flag}/",
    R + "review/",
    R + "incidents/",
    R + "sign-offs/",
    R + "decisions/",
    "/api/decisions/{decision}/",
    R + "checks/",
    R + "checks/{check}/",
    R + "checks/{check}/results/",
    "/api/projects/payments/integrations/",
    "/api/projects/payments/integrations/{integration}/",
    "/api/projects/payments/checks/",
    "/api/projects/payments/checks/{template}/",
    "/api/projects/payments/metrics/",
    "/api/projects/payments/events/",
    "/api/projects/payments/checklist-templates/",
    "/api/projects/payments/checklist-templates/{checklist_template}/",
    "/api/projects/payments/trains/",
    "/api/projects/payments/trains/{train}/",
    "/api/projects/payments/trains/{train}/slots/",
    "/api/projects/payments/gate/github-app/",
    "/api/projects/payments/gate/gitlab-approvals/",
]
LISTS = ["/api/projects/", "/api/releases/", "/api/timeline/"]


def test_it_shows_a_release_to_its_project_and_to_no_one_else(cast):
    ids = rich(cast)
    for who, client in clients(cast).items():
        for url in READS:
            response = client.get(url.format(**ids))
            if who == "anonymous":
                assert response.status_code == 401, (who, url)
            elif who in OUTSIDERS:
                assert response.status_code == 404, (who, url)
                assert_no_leak(response)
            else:
                assert response.status_code == 200, (who, url, response.content[:300])


def test_it_lists_only_what_the_caller_may_see(cast):
    ids = rich(cast)
    for who, client in clients(cast).items():
        for url in LISTS:
            response = client.get(url)
            if who == "anonymous":
                assert response.status_code == 401, (who, url)
                continue
            assert response.status_code == 200, (who, url)
            text = response.content.decode()
            if who in OUTSIDERS:
                assert "payments" not in text, (who, url)
                assert f'"id":{ids["release"]},' not in text.replace(" ", ""), (who, url)
            else:
                assert "payments" in text, (who, url)


PERSONAL_READS = ["/api/notifications/", "/api/notifications/?unread=true"]


@pytest.mark.parametrize("who", PRINCIPALS)
def test_it_shows_people_their_own_notifications_and_tokens_none(cast, client_for, who):
    with_notifications(cast)
    client = client_for(who)
    for url in PERSONAL_READS:
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 401, url
        elif who in PEOPLE:
            assert response.status_code == 200, url
            messages = [n["message"] for n in response.json()["results"]]
            assert messages == [f"For {getattr(cast, who).username} only"], url
        else:
            # A project token is a machine with no inbox: refused, and shown no one's.
            assert response.status_code == 403, url
            assert_no_leak(response)
            assert "only" not in response.content.decode()


def test_it_covers_every_operation_in_the_schema():
    """A new endpoint without a row in this matrix fails here."""

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path)
        for path, methods in schema["paths"].items()
        for method in methods
        if not path.startswith("/api/schema") and not path.startswith("/api/docs")
    }

    def template(url: str) -> str:
        return (
            url.replace("{release}", "{release_id}")
            .replace("{item}", "{item_id}")
            .replace("{checklist}", "{item_id}")
            .replace("{assignment}", "{assignment_id}")
            .replace("{check}", "{check_id}")
            .replace("{change}", "{request_id}")
            .replace("{member}", "{user_id}")
            .replace("{window}", "{window_id}")
            .replace("{decision}", "{decision_id}")
            .replace("{integration}", "{integration_id}")
            .replace("{template}", "{check_id}")
            .replace("{checklist_template}", "{template_id}")
            .replace("{train}", "{train_id}")
            .replace("{trigger}", "{trigger_id}")
            .replace("{flag}", "{flag_id}")
            .replace("{action}", "{action_id}")
            .replace("{incident}", "{incident_id}")
            .replace("{webhook}", "{webhook_id}")
            .replace("{delivery}", "{delivery_id}")
            .replace("payments", "{slug}")
        )

    covered = {(op.method, template(op.url)) for op in WRITES.values()}
    covered |= {("get", template(url)) for url in READS + LISTS + PERSONAL_READS[:1]}
    assert operations - covered == set(), "endpoints missing from the matrix"
    assert covered - operations == set(), "matrix rows for endpoints that do not exist"
