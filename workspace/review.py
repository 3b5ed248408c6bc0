"""What the post-release review page shows beside the review: the facts of the release.

Reads check results, so it sits on top of the apps like the readiness computation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from monitoring.models import CheckPhase, CheckResult, CheckStatus
from releases.metrics import compare_with_project
from releases.models import Incident, Release, ReleaseEvent, ScopeItem
from releases.services.lifecycle import release_time_to_restore

OVERRIDE_VERBS = ("decision_override", "deploy_started")


@dataclass(frozen=True)
class Phase:
    label: str
    started: dt.datetime | None
    ended: dt.datetime | None

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started and self.ended and self.ended >= self.started:
            return self.ended - self.started
        return None


def phases(release: Release) -> list[Phase]:
    """Time spent in each phase of the lifecycle, from the recorded timestamps."""
    end_of_monitoring = release.released_at or (
        release.rolled_back_at if release.deploy_finished_at else None
    )
    return [
        Phase("Planning", release.created_at, release.frozen_at),
        Phase("Frozen until approval", release.frozen_at, release.approved_at),
        Phase("Approved until deploy", release.approved_at, release.deploy_started_at),
        Phase(
            "Deploying",
            release.deploy_started_at,
            release.deploy_finished_at or release.rolled_back_at,
        ),
        Phase("Monitoring", release.deploy_finished_at, end_of_monitoring),
        Phase("Rolling back", release.rolled_back_at, release.rollback_finished_at),
    ]


@dataclass(frozen=True)
class HealthCheck:
    """One post-release check through the health window: its status changes in order."""

    name: str
    required: bool
    changes: list[CheckResult]

    @property
    def breached(self) -> bool:
        return any(r.status in FAILED for r in self.changes)

    @property
    def last(self) -> CheckResult:
        return self.changes[-1]


@dataclass(frozen=True)
class Rollback:
    decided_by: str
    automatic: bool
    reason: str
    started: dt.datetime
    finished: dt.datetime | None
    # From the release turning unhealthy to the rollback starting: how long the call took.
    time_to_decide: dt.timedelta | None
    time_to_restore: dt.timedelta | None
    # A trigger's recommendation, if one came before the call.
    recommended_at: dt.datetime | None = None
    recommendation: str = ""


FAILED = (CheckStatus.FAILING, CheckStatus.ERROR)


def health_checks(results: list[CheckResult]) -> list[HealthCheck]:
    by_check: dict[int, list[CheckResult]] = {}
    for result in results:
        if result.check_ref.phase == CheckPhase.POST_RELEASE:
            by_check.setdefault(result.check_ref_id, []).append(result)
    return [
        HealthCheck(
            name=changes[0].check_ref.name, required=changes[0].check_ref.required, changes=changes
        )
        for changes in by_check.values()
    ]


def rollback_facts(release: Release) -> Rollback | None:
    if release.rolled_back_at is None:
        return None
    decider = release.rollback_decided_by
    if decider is not None:
        decided_by = decider.get_full_name() or decider.get_username()
    else:
        decided_by = "Greenlight" if release.rollback_automatic else "CI or an integration"
    since = release.unhealthy_since
    return Rollback(
        decided_by=decided_by,
        automatic=release.rollback_automatic,
        reason=release.rollback_reason,
        started=release.rolled_back_at,
        finished=release.rollback_finished_at,
        time_to_decide=(
            release.rolled_back_at - since if since and since <= release.rolled_back_at else None
        ),
        time_to_restore=release_time_to_restore(release),
        recommended_at=release.rollback_recommended_at,
        recommendation=release.rollback_recommendation,
    )


def review_facts(release: Release) -> dict[str, Any]:
    results = list(
        CheckResult.objects.filter(check_ref__release=release)
        .select_related("check_ref")
        .order_by("observed_at", "pk")
    )
    return {
        "phases": [p for p in phases(release) if p.started],
        "health_window": [r for r in results if r.check_ref.phase == CheckPhase.POST_RELEASE],
        "health_checks": health_checks(results),
        "rollback": rollback_facts(release),
        "failed_checks": [r for r in results if r.status in FAILED],
        "overrides": [
            e
            for e in ReleaseEvent.objects.filter(release=release, verb__in=OVERRIDE_VERBS)
            .select_related("actor")
            .order_by("created_at")
            if e.verb == "decision_override" or e.data.get("override_reason")
        ],
        "late_scope": list(
            release.scope_items.filter(added_after_freeze=True, state=ScopeItem.State.INCLUDED)
        ),
        "time_to_restore": release_time_to_restore(release),
        "incidents": list(Incident.objects.filter(release=release).select_related("created_by")),
        # This release's lead time, time to restore and incidents beside the project's last
        # 90 days (the DORA figures of the metrics page).
        "comparison": compare_with_project(release),
    }
