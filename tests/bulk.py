"""Many realistic releases at once, with bulk inserts: for query-count tests and benchmarks.

The services create one release in about twenty queries; a thousand releases through them take
minutes. These rows look the same to every page (assignments, checklist copies, scope, rollback
plan, checks, sign-offs, events) but are inserted a table at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.utils import timezone

from approvals.models import SignOff
from monitoring.models import Check
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    Project,
    ProjectMembership,
    Release,
    ReleaseEvent,
    ReleaseKind,
    RoleAssignment,
    RollbackPlan,
    ScopeItem,
    Status,
)

STATUSES = [Status.PLANNING, Status.FROZEN, Status.FROZEN, Status.APPROVED, Status.MONITORING]
KINDS = [ReleaseKind.STANDARD, ReleaseKind.STANDARD, ReleaseKind.HOTFIX, ReleaseKind.MAJOR]


def seed_releases(project: Project, count: int, *, prefix: str = "9", scope: int = 3) -> list:
    """``count`` active releases of ``project`` spread over the lifecycle; returns them."""
    now = timezone.now()
    releases = Release.objects.bulk_create(
        [
            Release(
                project=project,
                version=f"{prefix}.{n}.0",
                title=f"Bulk release {n}",
                kind=KINDS[n % len(KINDS)],
                status=STATUSES[n % len(STATUSES)],
                commit_sha=hashlib.sha1(f"{prefix}.{n}".encode()).hexdigest(),
                code_freeze_at=now + dt.timedelta(hours=n),
                go_no_go_at=now + dt.timedelta(hours=n + 24),
                deploy_window_start=now + dt.timedelta(hours=n + 48),
                deploy_window_end=now + dt.timedelta(hours=n + 50),
                monitoring_ends_at=now + dt.timedelta(hours=n + 52),
                frozen_at=now if STATUSES[n % len(STATUSES)] != Status.PLANNING else None,
            )
            for n in range(count)
        ]
    )
    members = list(ProjectMembership.objects.filter(project=project).values_list("user_id", "role"))
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(release=r, user_id=u, role=role) for r in releases for u, role in members]
    )
    templates = list(ChecklistTemplate.objects.filter(project=project))
    ChecklistItem.objects.bulk_create(
        [
            ChecklistItem(
                release=r,
                template=t,
                phase=t.phase,
                title=t.title,
                owner_role=t.owner_role,
                required=t.required,
                position=t.position,
                ticked_at=now if (r.pk + t.pk) % 2 else None,
            )
            for r in releases
            for t in templates
            if t.applies_to(r.kind)
        ]
    )
    ScopeItem.objects.bulk_create(
        [
            ScopeItem(release=r, title=f"Item {i} of {r.version}", key=f"BULK-{r.pk}-{i}")
            for r in releases
            for i in range(scope)
        ]
    )
    RollbackPlan.objects.bulk_create([RollbackPlan(release=r) for r in releases])
    check_templates = list(Check.objects.filter(project=project, release__isnull=True))
    Check.objects.bulk_create(
        [
            Check(
                release=r,
                integration_id=c.integration_id,
                name=c.name,
                phase=c.phase,
                required=c.required,
                status="passing" if r.pk % 3 else "failing",
            )
            for r in releases
            for c in check_templates
        ]
    )
    signers = [(u, role) for u, role in members if role in ("dev", "qa")]
    SignOff.objects.bulk_create(
        [
            SignOff(release=r, user_id=u, role=role, decision="go")
            for r in releases
            if r.status != Status.PLANNING
            for u, role in signers
        ]
    )
    ReleaseEvent.objects.bulk_create(
        [
            ReleaseEvent(release=r, verb="release_created", summary=f"Release {r.version} created")
            for r in releases
        ]
    )
    return releases


def crowded_release(cast: Any, count: int) -> Release:
    """A frozen release among ``count`` seeded ones, with ``count`` more scope items, ticked
    checklist items and notes than usual: what its page must show in as many queries as with
    none."""
    release = next(r for r in seed_releases(cast.project, count) if r.status == Status.FROZEN)
    ScopeItem.objects.bulk_create(
        [ScopeItem(release=release, title=f"Extra {n}", owner=cast.devin) for n in range(count)]
    )
    ChecklistItem.objects.bulk_create(
        [
            ChecklistItem(
                release=release,
                title=f"Check {n}",
                owner_role="qa",
                ticked_by=cast.quinn,
                ticked_at=timezone.now(),
            )
            for n in range(count)
        ]
    )
    ReleaseEvent.objects.bulk_create(
        [
            ReleaseEvent(release=release, actor=cast.rita, verb="note", summary=f"n{n}")
            for n in range(count)
        ]
    )
    return release


def members_by_role(project: Project) -> dict[str, Any]:
    return {m.role: m.user for m in ProjectMembership.objects.filter(project=project)}
