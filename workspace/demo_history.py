"""Six months of the demo project's past, lived through the same services as a person's clicks.

Each release is told as a story of dated steps — created, scope added, scope locked, checklists
ticked, checks reported, the go/no-go poll, the deploy, the monitoring window, the review — and
every step runs at the moment it is said to have happened (``happening_at``). The services then
stamp their events, sign-offs, ticks and check results with that moment, and their guards judge
it: a deploy starts inside its window, a release is released once its window has passed. What
the timeline, the release pages and the DORA figures show follows from the history, as it would
for a real team.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import time_machine
from django.db.models import F
from django.utils import timezone

from approvals.services.decisions import open_poll, record_decision
from approvals.services.deploy import start_deploy
from approvals.services.sign_offs import record_sign_off
from lib.errors import Refused
from monitoring.models import CheckPhase
from monitoring.services.health import release_if_healthy, restore_health
from monitoring.services.results import record_check_result
from releases.models import (
    ChecklistItem,
    Incident,
    Notification,
    Phase,
    Project,
    Release,
    ReleaseKind,
    Role,
    Severity,
)
from releases.services.checklists import tick_checklist_item
from releases.services.incidents import record_incident, resolve_incident
from releases.services.lifecycle import finish_deploy, lock_scope
from releases.services.releases import create_release
from releases.services.review import add_review_action, complete_review_action, save_review
from releases.services.rollback import finish_rollback, roll_back, update_rollback_plan
from releases.services.scope import add_scope_item

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

# Who does what in the demo team, by role.
TEAM: dict[str, str] = {
    Role.RELEASE_MANAGER: "rita",
    Role.PRODUCT: "paul",
    Role.QA: "quinn",
    Role.DEVOPS: "dana",
    Role.DEV: "devin",
}
# The pipeline and the health monitor report as machines.
CI = "CI pipeline"
MONITOR = "Health monitor"

# (kind, title, owner, risk): what a payments team ships week after week. Keys are numbered
# as the history goes, so no two releases ship the same ticket.
WORK = [
    ("feature", "Saved cards for returning customers", "devin", "medium"),
    ("fix", "Refund total rounds to the cent", "devin", "low"),
    ("feature", "Apple Pay on the checkout page", "devin", "high"),
    ("dependency", "Stripe API version upgrade", "dana", "medium"),
    ("fix", "Declined cards show the bank's reason", "devin", "low"),
    ("feature", "Partial refunds from the order page", "devin", "medium"),
    ("fix", "Duplicate webhook deliveries ignored", "devin", "medium"),
    ("feature", "3-D Secure challenge in a modal", "devin", "high"),
    ("fix", "Currency shown with the customer's locale", "devin", "low"),
    ("dependency", "PostgreSQL driver 3.2", "dana", "low"),
    ("feature", "Payout report as CSV", "paul", "low"),
    ("fix", "Timeout on slow card issuers raised to 20 s", "devin", "medium"),
    ("feature", "Google Pay on Android", "devin", "medium"),
    ("fix", "Receipt e-mail lists the discount", "devin", "low"),
]

EVIDENCE: dict[str, list[tuple[str, str]]] = {
    Phase.READINESS: [
        ("Regression suite green on staging", "https://ci.example.com/payments/runs/{n}"),
        ("Checked with the QA dashboard", ""),
        ("Load test: p95 310 ms at 2× peak", "https://grafana.example.com/d/load?run={n}"),
        ("Reviewed with support", ""),
        ("Migration dry-run on a production snapshot", "https://ci.example.com/payments/runs/{n}"),
        ("Config diff empty", ""),
        ("Posted in #payments-announce", ""),
    ],
    Phase.DEPLOYMENT: [
        ("Pipeline green on the release commit", "https://ci.example.com/payments/runs/{n}"),
        ("Flags set in the flag service", ""),
        ("Test order placed and refunded", ""),
    ],
    Phase.POST_RELEASE: [
        ("Error rate 0.2 %, p95 290 ms over the window", "https://grafana.example.com/d/pay"),
        ("Support briefed in the weekly sync", ""),
    ],
}

# Where a ticked item's evidence lives when the item asks for a link.
EVIDENCE_LINK = "https://ci.example.com/payments/reports/{n}"

SIGN_OFF_COMMENTS: dict[str, list[str]] = {
    Role.DEV: ["All merged and reviewed.", "Looks good.", "Nothing open on our side."],
    Role.QA: ["Regression green, no open defects.", "Tested on staging.", "Go."],
    Role.DEVOPS: ["Pipeline green, rollback rehearsed.", "Infra ready.", "Go from ops."],
    Role.PRODUCT: ["Release notes approved.", "Go.", "Scope is what we promised."],
    Role.RELEASE_MANAGER: ["Everything in place.", "Go."],
}


# How far ahead each kind is planned: (created, code freeze, go/no-go) before the deploy, and
# the length of its deploy window.
CEREMONY: dict[str, tuple[dt.timedelta, dt.timedelta, dt.timedelta, dt.timedelta]] = {
    ReleaseKind.STANDARD: (7 * DAY, 5 * DAY, 23 * HOUR, 2 * HOUR),
    ReleaseKind.HOTFIX: (3 * HOUR, 2 * HOUR, 45 * MINUTE, 45 * MINUTE),
    ReleaseKind.MAJOR: (21 * DAY, 10 * DAY, 2 * DAY, 2 * HOUR),
}


@contextmanager
def happening_at(moment: dt.datetime) -> Iterator[None]:
    """Run the block as if it were ``moment``: every ``timezone.now()`` inside it — in the
    services' guards, their events, sign-offs, ticks and automatic timestamps — reads
    ``moment``. The one place the demo's past is dated."""
    with time_machine.travel(moment, tick=False):
        yield


@dataclass
class Story:
    """One release's dated steps; ``tell`` runs those that have already happened."""

    steps: list[tuple[dt.datetime, Callable[[], Any]]] = field(default_factory=list)

    def at(self, moment: dt.datetime, step: Callable[[], Any]) -> None:
        self.steps.append((moment, step))

    def tell(self, now: dt.datetime, state: dict[str, Release]) -> Release | None:
        for moment, step in sorted(self.steps, key=lambda pair: pair[0]):
            if moment > now:
                break
            with happening_at(moment):
                step()
        release = state.get("release")
        if release is not None:
            release.refresh_from_db()
        return release


@dataclass
class Outcome:
    """What happens after the deploy: nothing (released), a bug a hotfix fixes, a rollback."""

    kind: str = "released"  # released | hotfixed | rolled_back
    reason: str = ""
    fixed_by: str = ""  # the hotfix's version


class History:
    """Builds the demo project's releases, each through the services at its own moments."""

    def __init__(self, project: Project, users: dict[str, Any], now: dt.datetime) -> None:
        self.project = project
        self.users = users
        self.now = now
        self.ticket = 100  # the next scope item's key number
        self.run = 4100  # the next CI run number
        # Read once each: the policy does not change while the history is told, and only the
        # history ticks the checklists.
        self.required_roles: dict[str, dict[str, int]] = {}
        self.unticked: dict[int, list[ChecklistItem]] = {}

    def person(self, role: str) -> Any:
        return self.users[TEAM[role]]

    # --- one release ----------------------------------------------------------------------------

    def release(
        self,
        version: str,
        deploy: dt.datetime,
        *,
        kind: str = ReleaseKind.STANDARD,
        title: str = "",
        scope: int = 3,
        outcome: Outcome | None = None,
        stop_before: str = "",
        created: dt.datetime | None = None,
    ) -> Release | None:
        """A release deployed at ``deploy`` (UTC), planned and run the way this team works:
        created a week ahead, scope locked five days before, go/no-go the day before.

        ``stop_before`` ("freeze", "poll", "deploy") ends the story early for a release that is
        still under way; steps after ``now`` never happen anyway. ``created`` moves the
        creation earlier, for a release planned further ahead than usual. Returns the release,
        None if its story has not begun yet.
        """
        rng = random.Random(version)
        outcome = outcome or Outcome()
        lead, freeze, go, window = CEREMONY[kind]
        created = created or deploy - lead
        go_at = deploy - go
        while go_at.weekday() >= 5 and kind != ReleaseKind.HOTFIX:
            go_at -= DAY  # the go/no-go meeting is on a working day
        story = Story()
        state: dict[str, Release] = {}

        def create() -> None:
            window_end = deploy + window
            state["release"] = create_release(
                self.project,
                # A major is planned by the head of engineering, so that the release manager
                # who runs it may still give her own Go (the policy keeps creators out).
                by=self.users["admin"] if kind == ReleaseKind.MAJOR else self.users["rita"],
                version=version,
                kind=kind,
                title=title,
                git_ref=f"release/{version}",
                commit_sha=hashlib.sha1(version.encode()).hexdigest(),
                code_freeze_at=deploy - freeze,
                go_no_go_at=go_at,
                deploy_window_start=deploy,
                deploy_window_end=window_end,
                # The planned end of monitoring is the project's window after the deploy window:
                # the same moment the health window ends at when the deploy takes all its window.
                monitoring_ends_at=window_end + self.project.monitoring_window(kind),
            )

        story.at(created, create)

        # Scope arrives over the days before the freeze (a hotfix's within the hour).
        for index in range(scope):
            added = created + (deploy - freeze - created) * (index / scope) + 7 * MINUTE
            story.at(added, lambda: self._add_scope(state["release"], rng))
        if stop_before == "freeze":
            return story.tell(self.now, state)

        frozen_at = deploy - freeze + self._delay(rng)
        story.at(frozen_at, lambda: lock_scope(state["release"], by=self.users["rita"]))
        story.at(frozen_at + 35 * MINUTE, lambda: self._ci(state["release"]))
        hotfix = kind == ReleaseKind.HOTFIX
        story.at(frozen_at + (5 * MINUTE if hotfix else HOUR), lambda: self._plan(state["release"]))

        # Readiness ticks between the freeze and the poll, in working hours.
        poll_at = go_at - (20 * MINUTE if hotfix else 90 * MINUTE)
        first = frozen_at + (10 * MINUTE if hotfix else 90 * MINUTE)
        span = poll_at - first
        for index in range(8):
            moment = first + span * (index / 8) + span / 16 * rng.random()
            if not hotfix:
                moment = self._working_hours(moment)
            story.at(moment, lambda: self._tick_next(state["release"], Phase.READINESS))
        if stop_before == "poll":
            return story.tell(self.now, state)

        story.at(poll_at, lambda: open_poll(state["release"], by=self.users["rita"]))
        decided = go_at + self._delay(rng)
        roles = [Role.DEV, Role.QA, Role.DEVOPS, Role.PRODUCT, Role.RELEASE_MANAGER]
        gap = (decided - poll_at) / (len(roles) + 1)

        def sign(role: str) -> Callable[[], None]:
            return lambda: self._sign(state["release"], role, rng)

        for index, role in enumerate(roles):
            story.at(poll_at + gap * (index + 0.5 + rng.random()), sign(role))
        story.at(decided, lambda: self._decide(state["release"], kind))
        if stop_before == "deploy":
            return story.tell(self.now, state)

        started = deploy + self._delay(rng)
        took = (rng.randint(8, 20) if kind == ReleaseKind.HOTFIX else rng.randint(18, 55)) * MINUTE
        story.at(started, lambda: self._start_deploy(state["release"]))
        for index in range(3):
            story.at(
                started + took * (index + 1) / 4,
                lambda: self._tick_next(state["release"], Phase.DEPLOYMENT),
            )
        finished = started + took
        story.at(finished, lambda: finish_deploy(state["release"], by=self.users["dana"]))
        story.at(finished + 3 * MINUTE, lambda: self._health(state["release"], "passing"))

        if outcome.kind == "rolled_back":
            failed = finished + rng.randint(12, 25) * MINUTE
            story.at(failed, lambda: self._health(state["release"], "failing", outcome.reason))
            story.at(failed + 2 * MINUTE, lambda: self._incident(state["release"], failed, outcome))
            called = failed + rng.randint(6, 14) * MINUTE
            story.at(
                called,
                lambda: roll_back(state["release"], by=self.users["rita"], reason=outcome.reason),
            )
            done = called + rng.randint(15, 30) * MINUTE
            story.at(done, lambda: finish_rollback(state["release"], by=self.users["dana"]))
            story.at(
                done + 5 * MINUTE,
                lambda: self._resolve(state["release"], done),
            )
            story.at(done + DAY, lambda: self._review(state["release"], outcome))
            return story.tell(self.now, state)

        watch = self.project.monitoring_window(kind)
        for index in range(2):
            story.at(
                finished + watch * (0.4 + 0.4 * index),
                lambda: self._tick_next(state["release"], Phase.POST_RELEASE),
            )
        if outcome.kind == "hotfixed":
            noticed = finished + rng.randint(25, 50) * MINUTE
            story.at(noticed, lambda: self._health(state["release"], "failing", outcome.reason))
        else:
            # Beat closes the window at its end; the release manager writes a short review.
            closes = finished + watch + rng.randint(1, 4) * MINUTE
            story.at(closes, lambda: release_if_healthy(state["release"], by="Greenlight"))
            if rng.random() < 0.3:
                story.at(closes + DAY, lambda: self._review(state["release"], outcome))
        return story.tell(self.now, state)

    def recover(self, version: str, fixed: dt.datetime, reason: str) -> None:
        """The broken release is healthy again once its hotfix is deployed; it is then released."""
        release = Release.objects.get(project=self.project, version=version)
        with happening_at(fixed + 3 * MINUTE):
            self._health(release, "passing")
        with happening_at(fixed + 5 * MINUTE):
            restore_health(release, by=self.users["dana"], reason=reason)
        release.refresh_from_db()
        assert release.monitoring_until is not None
        with happening_at(max(release.monitoring_until, fixed) + 10 * MINUTE):
            release_if_healthy(release, by="Greenlight")

    # --- the steps ------------------------------------------------------------------------------

    def _add_scope(self, release: Release, rng: random.Random) -> None:
        kind, title, owner, risk = WORK[self.ticket % len(WORK)]
        key = f"PAY-{self.ticket}"
        self.ticket += 1
        add_scope_item(
            release,
            by=self.users["rita"],
            kind=kind,
            key=key,
            title=title,
            url=f"https://jira.example.com/browse/{key}",
            owner=self.users[owner],
            risk=risk,
        )

    def _ci(self, release: Release) -> None:
        self.run += 1
        for check in release.checks.filter(phase=CheckPhase.PRE_RELEASE):
            record_check_result(
                check,
                status="passing",
                value="success",
                url=f"https://ci.example.com/payments/runs/{self.run}",
                source="api",
                by=CI,
            )

    def _plan(self, release: Release) -> None:
        update_rollback_plan(
            release,
            by=self.users["dana"],
            revert_steps="1. Pause the rollout in the deploy tool.\n"
            "2. Redeploy the previous tag.\n3. Run the down-migration if the release has one.",
            decider=self.users["rita"],
            triggers="Checkout error rate above 2 % for 5 minutes, or p95 latency above 800 ms.",
            data_considerations="Orders placed during the window stay valid; nothing is deleted.",
            rehearsed_at=timezone.now() - 2 * HOUR,
        )

    def _to_tick(self, release: Release, phase: str) -> list[ChecklistItem]:
        """The release's items of ``phase`` still to tick, in the order they are ticked."""
        if release.pk not in self.unticked:
            # Through the release, so that each item knows it without reading it again.
            self.unticked[release.pk] = list(
                release.checklist_items.filter(ticked_at__isnull=True).order_by("position", "pk")
            )
        return [item for item in self.unticked[release.pk] if item.phase == phase]

    def _tick_next(self, release: Release, phase: str) -> None:
        items = self._to_tick(release, phase)
        if not items:
            return
        item = items[0]
        self.run += 1
        evidence = EVIDENCE[phase]
        note, url = evidence[item.position % len(evidence)]
        if item.needs_link and not url:
            url = EVIDENCE_LINK
        tick_checklist_item(
            item, by=self.person(item.owner_role), note=note, url=url.format(n=self.run)
        )
        self.unticked[release.pk].remove(item)

    def _incident(self, release: Release, started: dt.datetime, outcome: Outcome) -> None:
        record_incident(
            release,
            by=self.users["dana"],
            title=f"Checkout failing after {release.version}: {outcome.reason}",
            severity=Severity.SEV1,
            started_at=started,
        )

    def _resolve(self, release: Release, at: dt.datetime) -> None:
        for incident in Incident.objects.filter(release=release, resolved_at__isnull=True):
            resolve_incident(incident, by=self.users["dana"], resolved_at=at)

    def _tick_rest(self, release: Release, phase: str) -> None:
        for _item in self._to_tick(release, phase):
            self._tick_next(release, phase)

    def _sign(self, release: Release, role: str, rng: random.Random) -> None:
        if release.kind not in self.required_roles:
            policy = release.project.approval_policy
            self.required_roles[release.kind] = policy.required_roles(release.kind)
        if role not in self.required_roles[release.kind]:
            return
        if role == Role.QA or role == Role.DEV:
            # Whoever signs for the checklist also makes sure it is complete first.
            self._tick_rest(release, Phase.READINESS)
        record_sign_off(
            release,
            by=self.person(role),
            role=role,
            decision="go",
            comment=rng.choice(SIGN_OFF_COMMENTS[role]),
        )

    def _decide(self, release: Release, kind: str) -> None:
        self._tick_rest(release, Phase.READINESS)
        # On a major the release manager signs, so the head of engineering decides.
        decider = self.users["admin"] if kind == ReleaseKind.MAJOR else self.users["rita"]
        record_decision(release, by=decider, outcome="go")

    def _start_deploy(self, release: Release) -> None:
        try:
            start_deploy(release, by=self.users["dana"])
        except Refused:
            # Only a release deployed now, in the demo's present, may fall in the weekend freeze:
            # refused, it is started again with an override.
            start_deploy(
                release,
                by=self.users["dana"],
                override_reason="Card network deadline; agreed with Product",
            )

    def _health(self, release: Release, status: str, detail: str = "") -> None:
        for check in release.checks.filter(phase=CheckPhase.POST_RELEASE):
            record_check_result(
                check,
                status=status,
                value="ok" if status == "passing" else "error",
                detail=detail,
                source="api",
                by=MONITOR,
            )

    def _review(self, release: Release, outcome: Outcome) -> None:
        rita, dana, devin = self.users["rita"], self.users["dana"], self.users["devin"]
        if outcome.kind == "rolled_back":
            save_review(
                release,
                by=rita,
                went_well="The error-rate trigger fired within minutes and the rollback took "
                "under half an hour; no payment was lost.",
                went_badly=f"{outcome.reason}. The migration had only been tried on a small "
                "snapshot, so the lock it took on the card vault went unnoticed.",
                caused_stress="Checkout failing during lunch-time peak; support heard about it "
                "from merchants before the dashboard told us.",
            )
            action = add_review_action(
                release,
                by=rita,
                description="Run every migration against a full-size production snapshot",
                owner=dana,
                due_date=(timezone.now() + 7 * DAY).date(),
            )
            add_review_action(
                release,
                by=rita,
                description="Alert support in #payments-incidents when a rollback starts",
                owner=devin,
                due_date=(timezone.now() + 14 * DAY).date(),
            )
            complete_review_action(action, by=dana)
            return
        save_review(
            release,
            by=rita,
            went_well="Scope was locked on time and the deploy stayed inside its window.",
            went_badly="One flaky end-to-end test had to be re-run twice.",
            caused_stress="",
        )

    @staticmethod
    def _delay(rng: random.Random) -> dt.timedelta:
        """How long after its planned moment a step happens: mostly on time, now and then late."""
        if rng.random() < 0.15:
            return rng.randint(8, 25) * MINUTE
        return rng.randint(0, 4) * MINUTE + rng.randint(0, 59) * dt.timedelta(seconds=1)

    @staticmethod
    def _working_hours(moment: dt.datetime) -> dt.datetime:
        """Move a moment out of the night and the weekend into the next working morning."""
        if moment.hour >= 17:
            moment = (moment + DAY).replace(hour=8, minute=moment.minute)
        elif moment.hour < 8:
            moment = moment.replace(hour=8)
        while moment.weekday() >= 5:
            moment += DAY
        return moment


def settle_notifications(*, before: dt.datetime) -> int:
    """The team read, and was mailed, what the history told them at the time: only the recent
    notifications are left unread (and only those are mailed by the worker)."""
    return Notification.objects.filter(created_at__lt=before).update(
        emailed_at=F("created_at"), read_at=F("created_at") + HOUR
    )
