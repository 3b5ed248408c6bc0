"""Reads behind the dashboard: the rows of one page and what waits on the current user.

Everything here runs a fixed number of queries however many releases, items or sign-offs
exist: the rows of a page are loaded with ``with_readiness_data`` and the "needs my action"
lists are one query each, filtered in SQL. Like ``releases.readiness`` this module sits on top
of the three apps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from approvals.models import DEFAULT_REQUIRED_ROLES, ApprovalPolicy, RoleRequirement, SignOff
from monitoring.models import Check, CheckPhase, CheckStatus
from releases.models import (
    ACTIVE_STATUSES,
    ChecklistItem,
    Phase,
    ProjectMembership,
    Release,
    ReleaseEvent,
    Role,
    RoleAssignment,
    ScopeChangeRequest,
    Status,
)
from releases.permissions import visible_releases
from releases.readiness import Readiness, compute_readiness, with_readiness_data

PAGE_SIZE = 25
# The "needs my action" panel shows this many of each kind and counts the rest.
PANEL_LIMIT = 8

# Which checklist phase is due in which status: readiness items until the go decision,
# deployment items from approval to deploy done, post-release items while monitoring.
DUE_PHASES = (
    Q(phase=Phase.READINESS, release__status__in=[Status.PLANNING, Status.FROZEN, Status.APPROVED])
    | Q(phase=Phase.DEPLOYMENT, release__status__in=[Status.APPROVED, Status.DEPLOYING])
    | Q(phase=Phase.POST_RELEASE, release__status=Status.MONITORING)
)
SIGNABLE = (Status.FROZEN, Status.APPROVED)


@dataclass
class Row:
    release: Release
    readiness: Readiness
    checks: dict[str, int]
    checks_phase: str
    next_milestone: tuple[str, dt.datetime] | None

    @property
    def top_blockers(self) -> list[str]:
        return [b.message for b in self.readiness.blockers[:3]]

    @property
    def more_blockers(self) -> int:
        return max(0, len(self.readiness.blockers) - 3)


def with_row_data(releases: QuerySet[Release]) -> QuerySet[Release]:
    """What a dashboard row reads, prefetched: readiness data and the health checks."""
    return with_readiness_data(releases).prefetch_related(
        Prefetch(
            "checks",
            queryset=Check.objects.filter(phase=CheckPhase.POST_RELEASE),
            to_attr="post_release_checks",
        )
    )


def load_rows(releases: list[Release], *, now: dt.datetime | None = None) -> list[Row]:
    """Rows for releases loaded through ``with_row_data``, in the order given."""
    now = now or timezone.now()
    rows = []
    for release in releases:
        # Once the deploy starts the health checks are what matters; before it, readiness.
        post = release.status in (Status.DEPLOYING, Status.MONITORING)
        checks = release.post_release_checks if post else release.pre_release_checks
        counts = dict.fromkeys(CheckStatus.values, 0)
        for check in checks:
            counts[check.status] += 1
        rows.append(
            Row(
                release=release,
                readiness=compute_readiness(release, now=now),
                checks=counts,
                checks_phase=CheckPhase.POST_RELEASE if post else CheckPhase.PRE_RELEASE,
                next_milestone=release.next_milestone(now),
            )
        )
    return rows


def can_create_anywhere(user: Any) -> bool:
    """Whether the "New release" button shows: one query however many projects."""
    return (
        user.is_superuser
        or ProjectMembership.objects.filter(user=user, role=Role.RELEASE_MANAGER).exists()
    )


# --- what waits on me -------------------------------------------------------------------------


@dataclass
class SignOffTask:
    release: Release
    role: str
    stale: bool

    @property
    def role_label(self) -> str:
        return Role(self.role).label


@dataclass
class MyActions:
    sign_offs: list[SignOffTask] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)
    change_requests: list[ScopeChangeRequest] = field(default_factory=list)

    @property
    def release_ids(self) -> set[int]:
        return (
            {t.release.pk for t in self.sign_offs}
            | {i.release_id for i in self.checklist}
            | {r.release_id for r in self.change_requests}
        )

    @property
    def total(self) -> int:
        return len(self.sign_offs) + len(self.checklist) + len(self.change_requests)

    def shown(self, name: str) -> list[Any]:
        return getattr(self, name)[:PANEL_LIMIT]

    def hidden(self, name: str) -> int:
        return max(0, len(getattr(self, name)) - PANEL_LIMIT)


def _sign_offs_waiting(user: Any, releases: QuerySet[Release], now: dt.datetime) -> list:
    policy = ApprovalPolicy.objects.filter(project=OuterRef("release__project"))
    mine = SignOff.objects.current().filter(
        release=OuterRef("release"), user=user, withdrawn_at__isnull=True
    )
    assignments = (
        RoleAssignment.objects.filter(
            user=user,
            release__in=releases.filter(status__in=SIGNABLE),
        )
        .exclude(role=Role.VIEWER)
        .annotate(
            has_policy=Exists(policy),
            required=Exists(
                RoleRequirement.objects.filter(
                    policy__project=OuterRef("release__project"),
                    release_kind=OuterRef("release__kind"),
                    role=OuterRef("role"),
                )
            ),
            expiry_days=Subquery(policy.values("sign_off_expiry_days")[:1]),
            separation=Subquery(policy.values("separation_of_duties")[:1]),
            signed_at=Subquery(mine.filter(role=OuterRef("role")).values("created_at")[:1]),
            signed_stale=Exists(mine.filter(role=OuterRef("role"), stale_at__isnull=False)),
            signed_other=Exists(mine.exclude(role=OuterRef("role"))),
        )
        .select_related("release__project")
        .order_by("release__go_no_go_at", "release__pk", "role")
    )
    waiting = []
    for a in assignments:
        required = (
            a.required if a.has_policy else a.role in DEFAULT_REQUIRED_ROLES.get(a.release.kind, {})
        )
        if not required:
            continue
        expired = (
            a.signed_at is not None
            and a.expiry_days is not None
            and now - a.signed_at > dt.timedelta(days=a.expiry_days)
        )
        if a.signed_at is not None and not (a.signed_stale or expired):
            continue
        # One person gives at most one role's sign-off: once they signed for another role,
        # this one is not theirs to give.
        if a.signed_other and (a.separation is None or a.separation) and a.signed_at is None:
            continue
        waiting.append(SignOffTask(release=a.release, role=a.role, stale=a.signed_at is not None))
    return waiting


def _checklist_waiting(user: Any, releases: QuerySet[Release]) -> list[ChecklistItem]:
    return list(
        ChecklistItem.objects.filter(
            release__in=releases.filter(status__in=ACTIVE_STATUSES),
            ticked_at__isnull=True,
            required=True,
        )
        .filter(DUE_PHASES)
        .filter(
            Exists(
                RoleAssignment.objects.filter(
                    release=OuterRef("release"), user=user, role=OuterRef("owner_role")
                )
            )
        )
        .select_related("release__project")
        .order_by("release__go_no_go_at", "release__pk", "phase", "position", "pk")
    )


def _change_requests_waiting(user: Any, releases: QuerySet[Release]) -> list[ScopeChangeRequest]:
    assigned = RoleAssignment.objects.filter(release=OuterRef("release"), user=user)
    if user.is_superuser:
        manager = Q()
    else:
        manager = Q(Exists(assigned.filter(role=Role.RELEASE_MANAGER))) | Q(
            Exists(
                ProjectMembership.objects.filter(
                    project=OuterRef("release__project"), user=user, role=Role.RELEASE_MANAGER
                )
            )
        )
    as_product = (
        Q(Exists(assigned.filter(role=Role.PRODUCT)))
        & Q(product_approved_at__isnull=True)
        & ~Q(manager_approved_by=user)
    )
    as_manager = manager & Q(manager_approved_at__isnull=True) & ~Q(product_approved_by=user)
    return list(
        ScopeChangeRequest.objects.filter(
            state=ScopeChangeRequest.State.PENDING,
            release__in=releases.filter(status__in=SIGNABLE),
        )
        .exclude(requested_by=user)
        .filter(as_product | as_manager)
        .select_related("release__project", "requested_by", "scope_item")
        .order_by("requested_at", "pk")
    )


def my_actions(user: Any, *, now: dt.datetime | None = None) -> MyActions:
    """The sign-offs, checklist items and change requests waiting on this user: three queries."""
    now = now or timezone.now()
    releases = visible_releases(user)
    return MyActions(
        sign_offs=_sign_offs_waiting(user, releases, now),
        checklist=_checklist_waiting(user, releases),
        change_requests=_change_requests_waiting(user, releases),
    )


def change_token(*, now: dt.datetime | None = None) -> str:
    """Changes whenever anything is logged anywhere, and once a minute for relative times.

    Every change a dashboard shows writes a ReleaseEvent (transitions, ticks, sign-offs, check
    status changes), so the newest event id is a cheap version number: one index lookup.
    """
    now = now or timezone.now()
    newest = ReleaseEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0
    return f"{newest}.{int(now.timestamp()) // 60}"


def release_token(release_pk: int) -> str:
    """Changes when the release, its event log or any of its checks' last evaluation changes."""
    row = (
        Release.objects.filter(pk=release_pk)
        .annotate(
            newest_event=Subquery(
                ReleaseEvent.objects.filter(release=OuterRef("pk")).order_by("-pk").values("pk")[:1]
            ),
            checked=Max("checks__last_evaluated_at"),
        )
        .values_list("updated_at", "newest_event", "checked")
        .first()
    )
    if row is None:
        return ""
    updated, newest, checked = row
    stamp = int(checked.timestamp()) if checked else 0
    return f"{int(updated.timestamp() * 1000)}.{newest or 0}.{stamp}"
