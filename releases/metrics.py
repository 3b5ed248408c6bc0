"""DORA metrics of a project over a period, computed from the release history.

The definitions the page shows are ``DEFINITIONS`` below; bands follow the clusters of the DORA
State of DevOps reports.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Prefetch
from django.utils import timezone

from lib.wording import duration, plural
from releases.models import Incident, Project, Release, ReleaseKind, ScopeItem, Status

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class ShippedScope(TypedDict):
        shipped_items: list[ScopeItem]
        recorded_incidents: list[Incident]

    # A release with its included scope and its incidents prefetched (deployed_releases).
    DeployedRelease = WithAnnotations[Release, ShippedScope]


# (metric, definition): written on the metrics page, word for word what ``_compute`` does.
DEFINITIONS = [
    (
        "Deployment frequency",
        "Releases whose deploy started in the period, per week.",
    ),
    (
        "Lead time for changes",
        "For each scope item shipped by those deploys, from the moment its change was merged "
        "(reported by CI) — or, when no merge time is known, from when it was added to the "
        "scope — to the end of the deploy; the median over all items.",
    ),
    (
        "Change failure rate",
        "Deploys that were rolled back, that had an incident recorded against them, or that "
        "the next deploy of the project had to fix as a hotfix, divided by all deploys in the "
        "period.",
    ),
    (
        "Time to restore",
        "For each failed deploy, from when it failed (turned unhealthy, else the end of its "
        "deploy) until service was restored (the rollback finished, or the fixing hotfix was "
        "deployed); for a deploy failed by incidents, from the first incident's start until "
        "the last one was resolved (unknown while one is open); the median.",
    ),
]

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

# (band, test) from best to worst; the first that holds names the band.
FREQUENCY_BANDS = [("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)]  # deploys per day
LEAD_TIME_BANDS = [("elite", DAY), ("high", 7 * DAY), ("medium", 30 * DAY)]
FAILURE_RATE_BANDS = [("elite", 0.05), ("high", 0.10), ("medium", 0.15)]
RESTORE_BANDS = [("elite", HOUR), ("high", DAY), ("medium", 7 * DAY)]


def _band_at_least(value: float, bands: list[tuple[str, float]]) -> str:
    for name, floor in bands:
        if value >= floor:
            return name
    return "low"


def _band_below(value: Any, bands: list[tuple[str, Any]]) -> str:
    for name, ceiling in bands:
        if value < ceiling:
            return name
    return "low"


def _band_at_most(value: float, bands: list[tuple[str, float]]) -> str:
    for name, ceiling in bands:
        if value <= ceiling:
            return name
    return "low"


@dataclass
class Failure:
    release: Release
    cause: str  # "rolled back" | "2 incidents" | "fixed by hotfix <version>"
    restore_time: dt.timedelta | None


@dataclass
class Metrics:
    start: dt.datetime
    end: dt.datetime
    deployments: list[DeployedRelease] = field(default_factory=list)
    lead_times: list[dt.timedelta] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def overridden(self) -> list[Release]:
        """Deploys that went ahead over a blocker (a Go or a deploy start with an override)."""
        return [release for release in self.deployments if release.override_used]

    @property
    def days(self) -> float:
        return max((self.end - self.start) / DAY, 1e-9)

    @property
    def deploys_per_week(self) -> float:
        return len(self.deployments) / self.days * 7

    @property
    def frequency_band(self) -> str:
        return _band_at_least(len(self.deployments) / self.days, FREQUENCY_BANDS)

    @property
    def lead_time(self) -> dt.timedelta | None:
        return _median(self.lead_times)

    @property
    def lead_time_band(self) -> str | None:
        return _band_below(self.lead_time, LEAD_TIME_BANDS) if self.lead_time is not None else None

    @property
    def change_failure_rate(self) -> float | None:
        if not self.deployments:
            return None
        return len(self.failures) / len(self.deployments)

    @property
    def failure_rate_band(self) -> str | None:
        rate = self.change_failure_rate
        return _band_at_most(rate, FAILURE_RATE_BANDS) if rate is not None else None

    @property
    def time_to_restore(self) -> dt.timedelta | None:
        return _median([f.restore_time for f in self.failures if f.restore_time is not None])

    @property
    def restore_band(self) -> str | None:
        ttr = self.time_to_restore
        return _band_below(ttr, RESTORE_BANDS) if ttr is not None else None

    def as_dict(self) -> dict[str, Any]:
        def seconds(delta: dt.timedelta | None) -> float | None:
            return delta.total_seconds() if delta is not None else None

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "deployments": len(self.deployments),
            "overridden_deployments": len(self.overridden),
            "deploys_per_week": round(self.deploys_per_week, 3),
            "deployment_frequency_band": self.frequency_band,
            "lead_time_seconds": seconds(self.lead_time),
            "lead_time_band": self.lead_time_band,
            "change_failure_rate": self.change_failure_rate,
            "change_failure_rate_band": self.failure_rate_band,
            "time_to_restore_seconds": seconds(self.time_to_restore),
            "time_to_restore_band": self.restore_band,
            "failures": [
                {
                    "version": f.release.version,
                    "cause": f.cause,
                    "restore_seconds": seconds(f.restore_time),
                }
                for f in self.failures
            ],
        }


def _median(values: list[dt.timedelta]) -> dt.timedelta | None:
    if not values:
        return None
    return dt.timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _deployed_at(release: Release) -> dt.datetime:
    deployed = release.deploy_finished_at or release.deploy_started_at
    assert deployed is not None  # the history holds deployed releases only
    return deployed


def _failed_at(release: Release) -> dt.datetime:
    return release.unhealthy_since or _deployed_at(release)


def deployed_releases(project: Project, since: dt.datetime) -> list[DeployedRelease]:
    """Every release of the project deployed since ``since``, oldest first, with its scope."""
    return list(
        Release.objects.filter(project=project, deploy_started_at__gte=since)
        .order_by("deploy_started_at", "pk")
        .prefetch_related(
            Prefetch(
                "scope_items",
                queryset=ScopeItem.objects.filter(state=ScopeItem.State.INCLUDED),
                to_attr="shipped_items",
            ),
            Prefetch("incidents", queryset=Incident.objects.all(), to_attr="recorded_incidents"),
        )
    )


def compute_metrics(project: Project, start: dt.datetime, end: dt.datetime) -> Metrics:
    # Later deploys are read too: a deploy near the end may be fixed by a hotfix after it.
    return _compute(deployed_releases(project, start), start, end)


def metrics_over_time(
    project: Project, start: dt.datetime, end: dt.datetime, *, bucket: dt.timedelta
) -> list[Metrics]:
    """The metrics per bucket (e.g. per week) from ``start`` to ``end``, for the charts; the
    history is read once whatever the number of buckets."""
    history = deployed_releases(project, start)
    buckets = []
    cursor = start
    while cursor < end:
        upper = min(cursor + bucket, end)
        buckets.append(_compute(history, cursor, upper))
        cursor = upper
    return buckets


def _compute(history: list[DeployedRelease], start: dt.datetime, end: dt.datetime) -> Metrics:
    metrics = Metrics(start=start, end=end)
    for index, release in enumerate(history):
        assert release.deploy_started_at is not None  # deployed_releases() filters on it
        if release.deploy_started_at < start:
            continue
        if release.deploy_started_at >= end:
            break
        metrics.deployments.append(release)
        metrics.lead_times += lead_times(release)
        failure = _failure(history, index)
        if failure is not None:
            metrics.failures.append(failure)
    return metrics


def lead_times(release: DeployedRelease) -> list[dt.timedelta]:
    """From each shipped scope item's merge (else its creation) to the end of the deploy."""
    shipped = _deployed_at(release)
    return [
        shipped - (item.merged_at or item.created_at)
        for item in release.shipped_items
        if (item.merged_at or item.created_at) <= shipped
    ]


def incidents_restore_time(incidents: list[Incident]) -> dt.timedelta | None:
    """From the first incident's start until the last was resolved; None while one is open."""
    if not incidents or any(incident.resolved_at is None for incident in incidents):
        return None
    first = min(incident.started_at for incident in incidents)
    last = max(incident.resolved_at for incident in incidents if incident.resolved_at)
    return last - first


def _failure(history: list[DeployedRelease], index: int) -> Failure | None:
    """Whether the deploy at ``index`` failed, and how long service took to come back.

    A rollback says most about the failure and keeps its own times; then incidents, whose
    start and resolve times are what people recorded of the outage; then a hotfix after it.
    """
    release = history[index]
    if release.status == Status.ROLLED_BACK:
        restored = release.rollback_finished_at or release.rolled_back_at
        return Failure(release, "rolled back", restored - _failed_at(release) if restored else None)
    if release.recorded_incidents:
        return Failure(
            release,
            plural(len(release.recorded_incidents), "incident"),
            incidents_restore_time(release.recorded_incidents),
        )
    following = history[index + 1] if index + 1 < len(history) else None
    if following is not None and following.kind == ReleaseKind.HOTFIX:
        fixed = following.deploy_finished_at
        return Failure(
            release,
            f"fixed by hotfix {following.version}",
            fixed - _failed_at(release) if fixed else None,
        )
    return None


# --- one release against the project --------------------------------------------------------

COMPARISON_DAYS = 90
# Closer than this, two durations read as the same in a sentence.
SAME_DURATION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Figure:
    """One figure of a release beside the project's, and the difference in words."""

    label: str
    this: str
    project: str
    delta: str


@dataclass(frozen=True)
class Comparison:
    release: DeployedRelease
    project: Metrics
    failure: Failure | None
    incidents: int
    lead_time: dt.timedelta | None

    @property
    def incidents_per_deploy(self) -> float | None:
        if not self.project.deployments:
            return None
        total = sum(len(r.recorded_incidents) for r in self.project.deployments)
        return total / len(self.project.deployments)

    @property
    def time_to_restore(self) -> dt.timedelta | None:
        return self.failure.restore_time if self.failure else None

    def figures(self) -> list[Figure]:
        project = self.project
        rate = project.change_failure_rate
        return [
            Figure(
                "Lead time for changes",
                duration(self.lead_time) if self.lead_time is not None else "no scope shipped",
                _median_words(project.lead_time),
                _duration_delta(self.lead_time, project.lead_time, "slower", "faster"),
            ),
            Figure(
                "Time to restore",
                _restore_words(self.failure),
                _median_words(project.time_to_restore),
                _duration_delta(self.time_to_restore, project.time_to_restore, "slower", "faster"),
            ),
            Figure(
                "Incidents",
                plural(self.incidents, "incident"),
                (
                    f"{_one_decimal(self.incidents_per_deploy)} per deploy"
                    if self.incidents_per_deploy is not None
                    else "no deploys"
                ),
                _count_delta(self.incidents, self.incidents_per_deploy),
            ),
            Figure(
                "Change failure",
                f"failed: {self.failure.cause}" if self.failure else "did not fail",
                f"{rate:.0%} of deploys failed" if rate is not None else "no deploys",
                "Counts as a failed change." if self.failure else "Not a failed change.",
            ),
        ]


def _median_words(value: dt.timedelta | None) -> str:
    return f"median {duration(value)}" if value is not None else "no figure yet"


def _restore_words(failure: Failure | None) -> str:
    if failure is None:
        return "nothing to restore"
    if failure.restore_time is None:
        return "not restored yet"
    return duration(failure.restore_time)


def _duration_delta(
    this: dt.timedelta | None, median: dt.timedelta | None, longer: str, shorter: str
) -> str:
    if this is None or median is None:
        return "Nothing to compare with."
    gap = this - median
    where = f"the project's {COMPARISON_DAYS}-day median"
    if abs(gap) < SAME_DURATION:
        return f"The same as {where}."
    if gap > dt.timedelta(0):
        return f"{duration(gap)} {longer} than {where}."
    return f"{duration(-gap)} {shorter} than {where}."


def _one_decimal(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _count_delta(count: int, average: float | None) -> str:
    if average is None:
        return "Nothing to compare with."
    where = f"the project's {COMPARISON_DAYS}-day average"
    gap = count - average
    if abs(gap) < 0.05:
        return f"As many as {where}."
    return f"{_one_decimal(abs(gap))} {'more' if gap > 0 else 'fewer'} than {where}."


def compare_with_project(release: Release, *, now: dt.datetime | None = None) -> Comparison | None:
    """This release's lead time, time to restore and incidents beside the project's figures
    over the last 90 days; None for a release that was never deployed. Three queries."""
    if release.deploy_started_at is None:
        return None
    end = now or timezone.now()
    start = end - dt.timedelta(days=COMPARISON_DAYS)
    history = deployed_releases(release.project, min(start, release.deploy_started_at))
    index = next((i for i, r in enumerate(history) if r.pk == release.pk), None)
    if index is None:
        return None
    this = history[index]
    times = lead_times(this)
    return Comparison(
        release=this,
        project=_compute(history, start, end),
        failure=_failure(history, index),
        incidents=len(this.recorded_incidents),
        lead_time=_median(times),
    )
