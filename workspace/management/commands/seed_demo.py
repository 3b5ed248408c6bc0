"""Demo data: the Payments project, its people and six months of its releases.

Everything is created through the services, each step at the moment it is said to have happened
(``workspace.demo_history``), so the event log, sign-offs, checks, the timeline and the DORA
figures are the real thing. Running it again changes nothing but where the demo's health check
looks: users are matched by name and the demo project is only built once.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from approvals.services.decisions import open_poll
from approvals.services.policy import ensure_policy, set_role_requirement
from approvals.services.sign_offs import record_sign_off
from monitoring.models import Check, CheckPhase, Integration, IntegrationKind
from monitoring.services.integrations import save_integration
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    Evidence,
    FreezeWindow,
    Phase,
    Project,
    ReleaseKind,
    Role,
)
from releases.services import trains
from releases.services.lifecycle import cancel_release
from releases.services.notes import add_note
from releases.services.projects import create_project, set_project_roles
from releases.services.scope import request_scope_change
from workspace.demo_history import (
    DAY,
    HOUR,
    MINUTE,
    History,
    Outcome,
    happening_at,
    settle_notifications,
)

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
    # phase, title, owner role, required, kinds (None = all), evidence ticking it needs
    (
        Phase.READINESS,
        "Critical user flows pass end-to-end",
        Role.QA,
        True,
        None,
        Evidence.LINK,
    ),
    (Phase.READINESS, "No open high-impact defects", Role.QA, True, None, Evidence.NOTE),
    (
        Phase.READINESS,
        "Performance acceptable under expected load",
        Role.QA,
        True,
        ("standard", "major"),
        Evidence.BOTH,
    ),
    (
        Phase.READINESS,
        "Release notes reviewed",
        Role.PRODUCT,
        True,
        ("standard", "major"),
        Evidence.NONE,
    ),
    (
        Phase.READINESS,
        "Database migrations reviewed and reversible",
        Role.DEV,
        True,
        None,
        Evidence.NOTE,
    ),
    (
        Phase.READINESS,
        "Staging matches production configuration",
        Role.DEVOPS,
        True,
        None,
        Evidence.NONE,
    ),
    (
        Phase.READINESS,
        "Stakeholders informed of the release timing",
        Role.RELEASE_MANAGER,
        False,
        None,
        Evidence.NONE,
    ),
    (
        Phase.DEPLOYMENT,
        "Deployment pipeline green on the release commit",
        Role.DEVOPS,
        True,
        None,
        Evidence.LINK,
    ),
    (
        Phase.DEPLOYMENT,
        "Feature flags set for the rollout",
        Role.DEVOPS,
        True,
        ("standard", "major"),
        Evidence.NONE,
    ),
    (Phase.DEPLOYMENT, "Smoke test in production", Role.QA, True, None, Evidence.NOTE),
    (
        Phase.POST_RELEASE,
        "Error rate and latency watched for the window",
        Role.DEVOPS,
        True,
        None,
        Evidence.LINK,
    ),
    (Phase.POST_RELEASE, "Support team briefed", Role.PRODUCT, False, None, Evidence.NONE),
]

HEALTH_CHECK = "Health endpoint (this demo app)"
# Releases every Tuesday at 13:00 UTC (14:00 in Berlin); the history goes back this many weeks.
WEEKS = 26
DEPLOY_WEEKDAY, DEPLOY_HOUR = 1, 13


def health_base_url(host: str, port: str) -> str:
    """Where the demo app answers its own health endpoint: a server bound to every address is
    reached on the loopback one."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = (
        "Create the demo project, users (password 'greenlight') and six months of releases. "
        "Idempotent; points the demo health check at this app on --host/--port."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST") or "127.0.0.1",
            help="Address the app runs on (default: $HOST, else 127.0.0.1).",
        )
        parser.add_argument(
            "--port",
            default=os.environ.get("PORT") or "8000",
            help="Port the app runs on (default: $PORT, else 8000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = self.ensure_users()
        base_url = health_base_url(options["host"], str(options["port"]))
        project = Project.objects.filter(slug="payments").first()
        if project is not None:
            self.point_health_check(project, users, base_url)
            self.stdout.write("Demo data already present; nothing to do.")
            return
        with transaction.atomic():
            self.build(users, base_url)
        self.stdout.write(self.style.SUCCESS("Demo data created."))

    def ensure_users(self) -> dict[str, Any]:
        User = get_user_model()
        users = {}
        names = [username for username, *_rest in PEOPLE] + ["admin"]
        missing = set(names) - set(
            User.objects.filter(username__in=names).values_list("username", flat=True)
        )
        # Hashed once for everyone: the same public demo password, and hashing it seven times
        # would be most of the seed's time.
        password = make_password(PASSWORD) if missing else ""
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
                user.password = password
                user.save(update_fields=["password"])
            users[username] = user
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={
                "first_name": "Alex",
                "last_name": "Adams",
                "is_staff": True,
                "is_superuser": True,
                "email": "admin@example.com",
            },
        )
        if created:
            admin.password = password
            admin.save(update_fields=["password"])
        users["admin"] = admin
        return users

    def point_health_check(self, project: Project, users: dict[str, Any], base_url: str) -> None:
        """The app may run on another port than last time: its health check follows it."""
        health = Integration.objects.filter(project=project, name=HEALTH_CHECK).first()
        if health is None or health.base_url == base_url:
            return
        save_integration(
            project,
            by=users["rita"],
            integration=health,
            name=health.name,
            kind=health.kind,
            base_url=base_url,
        )

    # --- the project ----------------------------------------------------------------------------

    def build(self, users: dict[str, Any], base_url: str) -> None:
        now = timezone.now()
        # The project and its settings exist from the start of the history.
        with happening_at(now - (WEEKS + 2) * 7 * DAY):
            project = self.setup(users, base_url)
        history = History(project, users, now)
        self.past(history)
        self.present(history)
        settle_notifications(before=now - DAY)

    def setup(self, users: dict[str, Any], base_url: str) -> Project:
        rita = users["rita"]
        project = create_project(
            name="Payments", slug="payments", by=rita, description="Checkout, cards and refunds."
        )
        project.repository_url = "https://github.com/example/payments"
        project.save(update_fields=["repository_url"])
        for username, _first, _last, role in PEOPLE:
            set_project_roles(project, users[username], [role], by=rita)
        ensure_policy(project)
        # One QA engineer on the team: a major needs her Go, not two.
        set_role_requirement(
            project, by=rita, release_kind=ReleaseKind.MAJOR, role=Role.QA, quorum=1
        )
        ChecklistTemplate.objects.bulk_create(
            ChecklistTemplate(
                project=project,
                phase=phase,
                title=title,
                owner_role=role,
                required=required,
                evidence_required=evidence,
                position=position,
                for_standard=kinds is None or "standard" in kinds,
                for_hotfix=kinds is None or "hotfix" in kinds,
                for_major=kinds is None or "major" in kinds,
            )
            for position, (phase, title, role, required, kinds, evidence) in enumerate(CHECKLIST)
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
        ci = Integration.objects.create(
            project=project, name="CI (pushed by the pipeline)", kind=IntegrationKind.PUSH
        )
        health = Integration.objects.create(
            project=project, name=HEALTH_CHECK, kind=IntegrationKind.HTTP, base_url=base_url
        )
        Check.objects.bulk_create(
            [
                Check(
                    project=project,
                    integration=ci,
                    name="CI green on the release commit",
                    phase=CheckPhase.PRE_RELEASE,
                    params={"context": "ci/build"},
                ),
                Check(
                    project=project,
                    integration=ci,
                    name="Security scan clean",
                    phase=CheckPhase.PRE_RELEASE,
                    required=False,
                    params={"context": "ci/security"},
                ),
                Check(
                    project=project,
                    integration=health,
                    name="Health endpoint answers",
                    phase=CheckPhase.POST_RELEASE,
                    # Relative to the integration's base URL, which follows the app's port.
                    params={"url": "/healthz", "json_field": "status", "expected": "ok"},
                    interval_seconds=30,
                ),
            ]
        )
        return project

    # --- six months of releases -----------------------------------------------------------------

    def past(self, history: History) -> None:
        """A release every Tuesday for six months: one major, three that needed a hotfix the
        same evening, one rolled back."""
        now = history.now
        last = (now - 2 * DAY).replace(hour=DEPLOY_HOUR, minute=0, second=0, microsecond=0)
        last -= DAY * ((last.weekday() - DEPLOY_WEEKDAY) % 7)
        hotfixes = {
            4: ("Refunds in JPY were off by a factor of 100", "Refund amounts in JPY corrected"),
            16: ("Saved cards missing for customers with two accounts", "Saved cards merged"),
            22: ("Receipts without the VAT line in Austria", "VAT line back on receipts"),
        }
        rolled_back = 19
        for index in range(WEEKS):
            deploy = last - (WEEKS - 1 - index) * 7 * DAY
            if index == 13:
                history.release(
                    "2.0.0",
                    deploy,
                    kind=ReleaseKind.MAJOR,
                    title="Payments platform v2",
                    scope=6,
                )
                continue
            version = f"1.{8 + index}.0" if index < 13 else f"2.{index - 13}.0"
            if index == rolled_back:
                history.release(
                    version,
                    deploy,
                    scope=4,
                    outcome=Outcome(
                        "rolled_back", "Checkout error rate 4 % after the card vault migration"
                    ),
                )
                continue
            if index in hotfixes:
                problem, fix = hotfixes[index]
                hotfix = version[: -len(".0")] + ".1"
                history.release(version, deploy, outcome=Outcome("hotfixed", problem, hotfix))
                fixed_at = deploy + 5 * HOUR
                release = history.release(
                    hotfix, fixed_at, kind=ReleaseKind.HOTFIX, title=fix, scope=1
                )
                assert release is not None
                assert release.deploy_finished_at is not None
                history.recover(version, release.deploy_finished_at, f"Fixed by {hotfix}")
                continue
            history.release(version, deploy, scope=3 + index % 3)

    def present(self, history: History) -> None:
        """Releases under way now, one in each state a team sees on its dashboard."""
        now = history.now
        users = history.users
        rita = users["rita"]
        # Deployed an hour and a half ago: done, and about halfway through its monitoring window.
        deployed = (now - 90 * MINUTE).replace(second=0, microsecond=0)
        history.release("2.13.0", deployed - dt.timedelta(minutes=deployed.minute % 5))
        # A hotfix approved minutes ago, deploying within the hour.
        soon = (now + 30 * MINUTE).replace(second=0, microsecond=0)
        soon += dt.timedelta(minutes=-soon.minute % 5)
        history.release(
            "2.13.1", soon, kind=ReleaseKind.HOTFIX, title="Refund rounding hotfix", scope=1
        )
        # Folded into the next one.
        cancelled = history.release(
            "2.14.0",
            (now + 2 * DAY).replace(hour=DEPLOY_HOUR, minute=0, second=0, microsecond=0),
            stop_before="freeze",
            created=now - 4 * DAY,
        )
        assert cancelled is not None
        with happening_at(now - 2 * DAY):
            cancel_release(cancelled, by=rita, reason="Folded into 2.15.0")
        # Scope frozen, readiness under way, the poll opened early.
        frozen = history.release(
            "2.15.0",
            (now + 3 * DAY).replace(hour=DEPLOY_HOUR, minute=0, second=0, microsecond=0),
            scope=6,
            stop_before="poll",
        )
        assert frozen is not None
        with happening_at(now - 3 * HOUR):
            open_poll(frozen, by=rita)
        for role, minutes in ((Role.DEV, 150), (Role.QA, 95)):
            with happening_at(now - minutes * MINUTE):
                record_sign_off(
                    frozen,
                    by=history.person(role),
                    role=role,
                    decision="go",
                    comment="Fine from my side.",
                )
        with happening_at(now - 40 * MINUTE):
            request_scope_change(
                frozen,
                by=users["devin"],
                action="add",
                reason="Merchants asked for it; the change is two lines.",
                proposal={
                    "kind": "fix",
                    "key": "PAY-170",
                    "title": "Show the card brand on receipts",
                },
            )
        item = ChecklistItem.objects.filter(release=frozen, ticked_at__isnull=True).first()
        if item:
            with happening_at(now - 25 * MINUTE):
                add_note(frozen, by=users["quinn"], text=f"Working on “{item.title}” today.")
        # Being planned.
        history.release(
            "2.16.0",
            (now + 10 * DAY).replace(hour=DEPLOY_HOUR, minute=0, second=0, microsecond=0),
            stop_before="freeze",
            created=now - DAY,
        )
        history.release(
            "3.0.0",
            (now + 30 * DAY).replace(hour=DEPLOY_HOUR, minute=0, second=0, microsecond=0),
            kind=ReleaseKind.MAJOR,
            title="Payments platform v3",
            stop_before="freeze",
            created=now - 6 * DAY,
        )
        with happening_at(now - 5 * DAY):
            FreezeWindow.objects.create(
                project=history.project,
                reason="End-of-year peak trading",
                starts_at=(now + 24 * DAY).replace(hour=0, minute=0, second=0, microsecond=0),
                ends_at=(now + 40 * DAY).replace(hour=0, minute=0, second=0, microsecond=0),
            )
            # Every other Tuesday from the week after next; beat creates each departure's
            # release two weeks ahead.
            next_tuesday = now.date() + dt.timedelta(days=(1 - now.weekday()) % 7 or 7)
            trains.save_train(
                history.project,
                by=rita,
                name="Fortnightly",
                cadence_weeks=2,
                first_deploy_date=next_tuesday + 7 * DAY,
                deploy_time=dt.time(14, 0),
                timezone="Europe/Berlin",
                create_days_ahead=14,
                version_template="{date:%Y.%m.%d}",
            )
        # What beat would have done by now: the departures within two weeks have their release.
        trains.schedule_train_releases(now=now)
