"""Demo data: a project, its people and releases spread over the whole lifecycle.

Everything is created through the services, so the event log, sign-offs and checks are the real
thing. Running it again changes nothing: users are matched by name and the demo project is only
built once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from approvals.services.decisions import open_poll, record_decision
from approvals.services.deploy import start_deploy
from approvals.services.sign_offs import record_sign_off
from monitoring.models import Check, CheckPhase, Integration, IntegrationKind
from monitoring.services.results import record_check_result
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    FreezeWindow,
    Phase,
    Project,
    Release,
    ReleaseKind,
    Role,
    ScopeItem,
    Severity,
)
from releases.services import trains
from releases.services.checklists import tick_checklist_item
from releases.services.incidents import record_incident
from releases.services.lifecycle import cancel_release, complete_release, finish_deploy, lock_scope
from releases.services.notes import add_note
from releases.services.projects import create_project, set_project_roles
from releases.services.releases import create_release
from releases.services.review import save_review
from releases.services.rollback import roll_back, update_rollback_plan
from releases.services.scope import add_scope_item, request_scope_change

PASSWORD = "greenlight"  # demo only

PEOPLE = [
    ("rita", "Rita", "Reyes", Role.RELEASE_MANAGER),
    ("paul", "Paul", "Okafor", Role.PRODUCT),
    ("quinn", "Quinn", "Larsen", Role.QA),
    ("dana", "Dana", "Kowalski", Role.DEVOPS),
    ("devin", "Devin", "Nakamura", Role.DEV),
    ("vic", "Vic", "Moreau", Role.VIEWER),
]

CHECKLIST = [
    # phase, title, owner role, required, kinds (None = all)
    (Phase.READINESS, "Critical user flows pass end-to-end", Role.QA, True, None),
    (Phase.READINESS, "No open high-impact defects", Role.QA, True, None),
    (
        Phase.READINESS,
        "Performance acceptable under expected load",
        Role.QA,
        True,
        ("standard", "major"),
    ),
    (Phase.READINESS, "Release notes reviewed", Role.PRODUCT, True, ("standard", "major")),
    (Phase.READINESS, "Database migrations reviewed and reversible", Role.DEV, True, None),
    (Phase.READINESS, "Staging matches production configuration", Role.DEVOPS, True, None),
    (
        Phase.READINESS,
        "Stakeholders informed of the release timing",
        Role.RELEASE_MANAGER,
        False,
        None,
    ),
    (Phase.DEPLOYMENT, "Deployment pipeline green on the release commit", Role.DEVOPS, True, None),
    (
        Phase.DEPLOYMENT,
        "Feature flags set for the rollout",
        Role.DEVOPS,
        True,
        ("standard", "major"),
    ),
    (Phase.DEPLOYMENT, "Smoke test in production", Role.QA, True, None),
    (Phase.POST_RELEASE, "Error rate and latency watched for the window", Role.DEVOPS, True, None),
    (Phase.POST_RELEASE, "Support team briefed", Role.PRODUCT, False, None),
]

SCOPE = [
    (ScopeItem.Kind.FEATURE, "PAY-142", "Saved cards for returning customers", "devin", "medium"),
    (ScopeItem.Kind.FEATURE, "PAY-150", "Apple Pay on the checkout page", "devin", "high"),
    (ScopeItem.Kind.FIX, "PAY-161", "Refund total rounds to the cent", "devin", "low"),
    (ScopeItem.Kind.DEPENDENCY, "OPS-33", "Stripe API version 2026-09", "dana", "medium"),
    (ScopeItem.Kind.RISK, "", "Card vault migration touches 2M rows", "dana", "high"),
    (ScopeItem.Kind.LIMITATION, "", "Apple Pay only for EUR and USD at first", "paul", "low"),
]


class Command(BaseCommand):
    help = "Create the demo project, users (password 'greenlight') and releases. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self.ensure_users()
        if Project.objects.filter(slug="payments").exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        with transaction.atomic():
            self.build(users)
        self.stdout.write(self.style.SUCCESS("Demo data created."))

    def ensure_users(self) -> dict[str, Any]:
        User = get_user_model()
        users = {}
        for username, first, last, _role in PEOPLE:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.set_password(PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            admin.set_password(PASSWORD)
            admin.save(update_fields=["password"])
        users["admin"] = admin
        return users

    def build(self, users: dict[str, Any]) -> None:
        rita = users["rita"]
        project = create_project(
            name="Payments", slug="payments", by=rita, description="Checkout, cards and refunds."
        )
        project.repository_url = "https://github.com/example/payments"
        project.save(update_fields=["repository_url"])
        for username, _first, _last, role in PEOPLE:
            set_project_roles(project, users[username], [role], by=rita)
        for position, (phase, title, role, required, kinds) in enumerate(CHECKLIST):
            ChecklistTemplate.objects.create(
                project=project,
                phase=phase,
                title=title,
                owner_role=role,
                required=required,
                position=position,
                for_standard=kinds is None or "standard" in kinds,
                for_hotfix=kinds is None or "hotfix" in kinds,
                for_major=kinds is None or "major" in kinds,
            )
        FreezeWindow.objects.create(
            project=project,
            reason="Weekend freeze",
            recurrence=FreezeWindow.Recurrence.WEEKLY,
            start_weekday=FreezeWindow.Weekday.FRIDAY,
            start_time=dt.time(15, 0),
            end_weekday=FreezeWindow.Weekday.MONDAY,
            end_time=dt.time(8, 0),
            timezone="Europe/Berlin",
        )
        now = timezone.now()
        FreezeWindow.objects.create(
            project=project,
            reason="End-of-year peak trading",
            starts_at=(now + dt.timedelta(days=24)).replace(
                hour=0, minute=0, second=0, microsecond=0
            ),
            ends_at=(now + dt.timedelta(days=40)).replace(
                hour=0, minute=0, second=0, microsecond=0
            ),
        )
        ci = Integration.objects.create(
            project=project,
            name="CI (pushed by the pipeline)",
            kind=IntegrationKind.PUSH,
        )
        health = Integration.objects.create(
            project=project,
            name="Production health endpoint",
            kind=IntegrationKind.HTTP,
            base_url="http://127.0.0.1:8000",
        )
        Check.objects.create(
            project=project,
            integration=ci,
            name="CI green on the release commit",
            phase=CheckPhase.PRE_RELEASE,
            params={"context": "ci/build"},
        )
        Check.objects.create(
            project=project,
            integration=ci,
            name="Security scan clean",
            phase=CheckPhase.PRE_RELEASE,
            required=False,
            params={"context": "ci/security"},
        )
        Check.objects.create(
            project=project,
            integration=health,
            name="Health endpoint answers",
            phase=CheckPhase.POST_RELEASE,
            params={
                "url": "http://127.0.0.1:8000/healthz",
                "json_field": "status",
                "expected": "ok",
            },
            interval_seconds=30,
        )

        self.released(project, users, now)
        self.rolled_back(project, users, now)
        self.monitoring(project, users, now)
        self.approved_hotfix(project, users, now)
        self.frozen(project, users, now)
        self.planning(project, users, now, "2.6.0", days=12)
        self.planning(project, users, now, "3.0.0", days=30, kind=ReleaseKind.MAJOR)
        cancelled = self.new_release(project, users, now, "2.4.1", days=-3)
        cancel_release(cancelled, by=rita, reason="Folded into 2.5.0")
        # Beat creates this train's releases ahead of time once the app runs.
        next_tuesday = now.date() + dt.timedelta(days=(1 - now.weekday()) % 7 or 7)
        trains.save_train(
            project,
            by=rita,
            name="Fortnightly",
            cadence_weeks=2,
            first_deploy_date=next_tuesday,
            deploy_time=dt.time(14, 0),
            timezone="Europe/Berlin",
            create_days_ahead=14,
            version_template="{date:%Y.%m.%d}",
        )

    # --- building blocks ---

    def new_release(
        self,
        project: Project,
        users: dict[str, Any],
        now: dt.datetime,
        version: str,
        *,
        days: int,
        kind: str = ReleaseKind.STANDARD,
        scope: int = 4,
    ) -> Release:
        deploy = (now + dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        release = create_release(
            project,
            by=users["rita"],
            version=version,
            kind=kind,
            title={"hotfix": "Refund rounding hotfix", "major": "Payments platform v3"}.get(
                kind, f"Payments {version}"
            ),
            git_ref=f"release/{version}",
            commit_sha=hashlib.sha1(version.encode()).hexdigest(),
            code_freeze_at=deploy - dt.timedelta(days=4),
            go_no_go_at=deploy - dt.timedelta(days=1),
            deploy_window_start=deploy,
            deploy_window_end=deploy + dt.timedelta(hours=2),
            monitoring_ends_at=deploy + dt.timedelta(hours=4),
        )
        for kind_, key, title, owner, risk in SCOPE[:scope]:
            add_scope_item(
                release,
                by=users["rita"],
                kind=kind_,
                key=key,
                title=title,
                url=f"https://jira.example.com/browse/{key}" if key else "",
                owner=users[owner],
                risk=risk,
            )
        return release

    def tick_all(
        self, release: Release, users: dict[str, Any], phase: str, *, leave: int = 0
    ) -> None:
        by_role: dict[str, Any] = {role: users[name] for name, _f, _l, role in PEOPLE}
        items = list(release.checklist_items.filter(phase=phase, ticked_at__isnull=True))
        for item in items[: len(items) - leave]:
            tick_checklist_item(
                item, by=by_role[item.owner_role], note="Verified on staging", url=""
            )

    def complete_plan(
        self, release: Release, users: dict[str, Any], *, rehearsed: bool = True
    ) -> None:
        update_rollback_plan(
            release,
            by=users["dana"],
            revert_steps="1. Pause the rollout in the deploy tool.\n2. Redeploy the previous tag.\n"
            "3. Run the down-migration for the card vault.",
            decider=users["rita"],
            triggers="Checkout error rate above 2 % for 5 minutes, or p95 latency above 800 ms.",
            data_considerations="Orders placed during the window stay valid; saved cards created "
            "in the window are re-encrypted by the down-migration.",
            rehearsed_at=timezone.now() - dt.timedelta(days=2) if rehearsed else None,
        )

    def pass_checks(self, release: Release) -> None:
        for check in release.checks.filter(phase=CheckPhase.PRE_RELEASE):
            record_check_result(
                check, status="passing", value="success", source="api", by="CI pipeline"
            )

    def sign_all(self, release: Release, users: dict[str, Any], roles: list[str]) -> None:
        by_role: dict[str, Any] = {role: users[name] for name, _f, _l, role in PEOPLE}
        for role in roles:
            record_sign_off(
                release, by=by_role[role], role=role, decision="go", comment="Looks good"
            )

    def to_approved(self, release: Release, users: dict[str, Any], roles: list[str]) -> None:
        lock_scope(release, by=users["rita"])
        self.tick_all(release, users, Phase.READINESS)
        self.complete_plan(release, users)
        self.pass_checks(release)
        open_poll(release, by=users["rita"])
        self.sign_all(release, users, roles)
        record_decision(release, by=users["rita"], outcome="go")

    # --- the releases ---

    def released(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        release = self.new_release(project, users, now, "2.2.0", days=0, scope=3)
        self.to_approved(release, users, ["dev", "qa", "devops", "product"])
        start_deploy(release, by=users["rita"], override_reason="Demo history")
        self.tick_all(release, users, Phase.DEPLOYMENT)
        finish_deploy(release, by=users["dana"])
        Release.objects.filter(pk=release.pk).update(monitoring_until=timezone.now())
        complete_release(release, by=users["rita"])
        save_review(
            release,
            by=users["rita"],
            went_well="Scope was locked on time; the deploy took 20 minutes.",
            went_badly="The smoke test found a stale cache on one node.",
            caused_stress="Waiting for the Stripe sandbox to come back.",
        )

    def rolled_back(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        release = self.new_release(project, users, now, "2.3.0", days=0, scope=5)
        self.to_approved(release, users, ["dev", "qa", "devops", "product"])
        start_deploy(release, by=users["rita"], override_reason="Demo history")
        record_incident(
            release,
            by=users["dana"],
            title="Card payments declined after the card vault migration",
            severity=Severity.SEV1,
        )
        roll_back(
            release,
            by=users["rita"],
            reason="Checkout error rate 4 % after the card vault migration",
        )

    def monitoring(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        release = self.new_release(project, users, now, "2.3.2", days=0, scope=3)
        self.to_approved(release, users, ["dev", "qa", "devops", "product"])
        start_deploy(release, by=users["rita"], override_reason="Demo history")
        self.tick_all(release, users, Phase.DEPLOYMENT)
        finish_deploy(release, by=users["dana"])

    def approved_hotfix(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        release = self.new_release(
            project, users, now, "2.3.3", days=1, kind=ReleaseKind.HOTFIX, scope=1
        )
        self.to_approved(release, users, ["dev", "devops"])

    def frozen(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        release = self.new_release(project, users, now, "2.5.0", days=3, scope=6)
        lock_scope(release, by=users["rita"])
        self.tick_all(release, users, Phase.READINESS, leave=3)
        self.complete_plan(release, users)
        self.pass_checks(release)
        open_poll(release, by=users["rita"])
        self.sign_all(release, users, ["dev", "qa"])
        request_scope_change(
            release,
            by=users["devin"],
            action="add",
            reason="Merchants asked for it; the change is two lines.",
            proposal={"kind": "fix", "key": "PAY-170", "title": "Show the card brand on receipts"},
        )
        item = ChecklistItem.objects.filter(release=release, ticked_at__isnull=True).first()
        if item:
            add_note(release, by=users["quinn"], text=f"Working on “{item.title}” today.")

    def planning(
        self,
        project: Project,
        users: dict[str, Any],
        now: dt.datetime,
        version: str,
        *,
        days: int,
        kind: str = ReleaseKind.STANDARD,
    ) -> None:
        release = self.new_release(project, users, now, version, days=days, kind=kind, scope=3)
        self.tick_all(release, users, Phase.READINESS, leave=5)
