"""DORA figures on a seeded history, checked against values computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from releases.metrics import compute_metrics, metrics_over_time
from tests.releases.dora_history import END, START, seed_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(cast):
    return seed_history(cast)


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
