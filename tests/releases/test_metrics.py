"""DORA figures on a seeded history, checked against values computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from releases.metrics import compute_metrics, metrics_over_time
from releases.models import Release, ScopeItem

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def deployed(cast, version, *, kind="standard", status="released", start, finish, items, **extra):
    release = Release.objects.create(
        project=cast.project,
        version=version,
        kind=kind,
        status=status,
        deploy_started_at=start,
        deploy_finished_at=finish,
        **extra,
    )
    for title, merged, created in items:
        item = ScopeItem.objects.create(release=release, title=title, merged_at=merged)
        if created:
            ScopeItem.objects.filter(pk=item.pk).update(created_at=created)
    return release


@pytest.fixture
def history(cast):
    deployed(
        cast,
        "1.0.0",
        start=at(2, 10),
        finish=at(2, 11),
        items=[("A", dt.datetime(2026, 10, 30, 11, tzinfo=dt.UTC), None), ("B", None, at(1, 11))],
    )
    deployed(
        cast,
        "1.1.0",
        start=at(9, 10),
        finish=at(9, 11),
        unhealthy_since=at(9, 12),
        items=[("C", at(8, 11), None)],
    )
    deployed(
        cast,
        "1.1.1",
        kind="hotfix",
        start=at(9, 15),
        finish=at(9, 15, 30),
        items=[("D", at(9, 14, 30), None)],
    )
    deployed(
        cast,
        "1.2.0",
        status="rolled_back",
        start=at(16, 10),
        finish=at(16, 11),
        unhealthy_since=at(16, 11, 30),
        rolled_back_at=at(16, 11, 40),
        rollback_finished_at=at(16, 12),
        items=[("E", at(13, 11), None)],
    )
    deployed(cast, "1.3.0", start=at(23, 10), finish=at(23, 11), items=[("F", at(21, 11), None)])
    deployed(cast, "1.4.0", start=at(30, 10), finish=at(30, 11), items=[("G", at(29, 11), None)])
    Release.objects.create(project=cast.project, version="2.0.0")  # never deployed
    return cast


def test_it_counts_deployments_in_the_period(history):
    metrics = compute_metrics(history.project, START, END)
    assert [r.version for r in metrics.deployments] == ["1.0.0", "1.1.0", "1.1.1", "1.2.0", "1.3.0"]
    assert metrics.deploys_per_week == pytest.approx(1.25)
    assert metrics.frequency_band == "high"


def test_it_takes_the_median_lead_time_from_merge_else_creation(history):
    metrics = compute_metrics(history.project, START, END)
    # 1 h, 1 d, 1 d, 2 d, 3 d, 3 d → median 1.5 days.
    assert metrics.lead_time == dt.timedelta(days=1, hours=12)
    assert metrics.lead_time_band == "high"


def test_it_counts_rollbacks_and_hotfix_followed_deploys_as_failures(history):
    metrics = compute_metrics(history.project, START, END)
    assert [(f.release.version, f.cause) for f in metrics.failures] == [
        ("1.1.0", "fixed by hotfix 1.1.1"),
        ("1.2.0", "rolled back"),
    ]
    assert metrics.change_failure_rate == pytest.approx(0.4)
    assert metrics.failure_rate_band == "low"


def test_it_measures_time_to_restore_from_failure_to_recovery(history):
    metrics = compute_metrics(history.project, START, END)
    # 1.1.0: unhealthy 12:00 → hotfix deployed 15:30 = 3.5 h; 1.2.0: 11:30 → 12:00 = 30 min.
    assert [f.restore_time for f in metrics.failures] == [
        dt.timedelta(hours=3, minutes=30),
        dt.timedelta(minutes=30),
    ]
    assert metrics.time_to_restore == dt.timedelta(hours=2)
    assert metrics.restore_band == "high"


def test_it_reports_nothing_rather_than_zero_without_deploys(cast):
    metrics = compute_metrics(cast.project, START, END)
    assert metrics.deployments == []
    assert metrics.change_failure_rate is None
    assert metrics.lead_time is None
    assert metrics.time_to_restore is None
    assert metrics.as_dict()["change_failure_rate_band"] is None


def test_it_buckets_by_week_reading_the_history_once(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        weeks = metrics_over_time(history.project, START, END, bucket=dt.timedelta(weeks=1))
    assert [len(w.deployments) for w in weeks] == [1, 2, 1, 1]
    assert [len(w.failures) for w in weeks] == [0, 1, 1, 0]
