"""DORA figures on a seeded history, checked against values computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from releases.metrics import compare_with_project, compute_metrics, metrics_over_time
from releases.models import Release
from releases.services.incidents import record_incident
from tests.releases.dora_history import END, START, at, seed_history

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
    # The releases, their shipped scope and their incidents.
    with django_assert_max_num_queries(3):
        weeks = metrics_over_time(history.project, START, END, bucket=dt.timedelta(weeks=1))
    assert [len(w.deployments) for w in weeks] == [1, 2, 1, 1]
    assert [len(w.failures) for w in weeks] == [0, 1, 1, 0]


def _incident(history, version, start, end=None, severity="sev2"):
    return record_incident(
        Release.objects.get(project=history.project, version=version),
        by=history.rita,
        title=f"Outage after {version}",
        severity=severity,
        started_at=start,
        resolved_at=end,
    )


def test_it_counts_a_deploy_with_an_incident_as_failed(history):
    _incident(history, "1.3.0", at(23, 12), at(23, 16, 10))

    metrics = compute_metrics(history.project, START, END)

    assert [(f.release.version, f.cause) for f in metrics.failures] == [
        ("1.1.0", "fixed by hotfix 1.1.1"),
        ("1.2.0", "rolled back"),
        ("1.3.0", "1 incident"),
    ]
    assert metrics.change_failure_rate == pytest.approx(0.6)


def test_it_restores_from_the_first_incident_start_to_the_last_resolve(history):
    _incident(history, "1.3.0", at(23, 12), at(23, 13))
    _incident(history, "1.3.0", at(23, 12, 30), at(23, 14), severity="sev3")

    metrics = compute_metrics(history.project, START, END)

    # 1.1.0: 3.5 h (hotfix); 1.2.0: 30 min (rollback); 1.3.0: 12:00 → 14:00 = 2 h.
    assert [f.restore_time for f in metrics.failures] == [
        dt.timedelta(hours=3, minutes=30),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
    ]
    assert metrics.failures[-1].cause == "2 incidents"
    assert metrics.time_to_restore == dt.timedelta(hours=2)


def test_it_keeps_the_rollback_times_for_a_rolled_back_deploy_with_an_incident(history):
    _incident(history, "1.2.0", at(16, 11), at(16, 18))

    metrics = compute_metrics(history.project, START, END)

    rolled_back = metrics.failures[1]
    assert (rolled_back.cause, rolled_back.restore_time) == (
        "rolled back",
        dt.timedelta(minutes=30),
    )
    assert metrics.change_failure_rate == pytest.approx(0.4)


def test_it_knows_no_restore_time_while_an_incident_is_open(history):
    _incident(history, "1.3.0", at(23, 12), at(23, 13))
    _incident(history, "1.3.0", at(23, 15))

    metrics = compute_metrics(history.project, START, END)

    assert (metrics.failures[-1].cause, metrics.failures[-1].restore_time) == ("2 incidents", None)
    # The open incident does not pull the median: 3.5 h and 30 min → 2 h.
    assert metrics.time_to_restore == dt.timedelta(hours=2)


def test_it_compares_a_release_with_the_projects_last_90_days(
    history, django_assert_max_num_queries
):
    _incident(history, "1.3.0", at(23, 12), at(23, 16, 10))
    release = Release.objects.select_related("project").get(version="1.3.0")

    with django_assert_max_num_queries(3):
        comparison = compare_with_project(release, now=at(30, 12))
        assert comparison is not None
        figures = {f.label: f for f in comparison.figures()}

    # Lead times over the 90 days: 1 h, 1 d, 1 d, 1 d, 2 d, 3 d, 3 d → median 1 d; 1.3.0: 2 d.
    lead = figures["Lead time for changes"]
    assert (lead.this, lead.project) == ("2 d", "median 1 d")
    assert lead.delta == "1 d slower than the project's 90-day median."
    # Restores: 30 min, 3.5 h, 4 h 10 min → median 3.5 h; 1.3.0 took 40 min longer.
    restore = figures["Time to restore"]
    assert (restore.this, restore.project) == ("4.2 h", "median 3.5 h")
    assert restore.delta == "40 min slower than the project's 90-day median."
    # One incident in six deploys.
    incidents = figures["Incidents"]
    assert (incidents.this, incidents.project) == ("1 incident", "0.2 per deploy")
    assert incidents.delta == "0.8 more than the project's 90-day average."
    assert figures["Change failure"].this == "failed: 1 incident"
    assert figures["Change failure"].project == "50% of deploys failed"


def test_it_says_a_quick_restore_is_faster_than_the_median(history):
    _incident(history, "1.3.0", at(23, 12), at(23, 12, 20))
    release = Release.objects.get(version="1.3.0")

    comparison = compare_with_project(release, now=at(30, 12))
    assert comparison is not None
    figures = {f.label: f for f in comparison.figures()}

    # Restores: 20 min, 30 min, 3.5 h → median 30 min; 1.3.0 took 10 min less.
    assert figures["Time to restore"].delta == "10 min faster than the project's 90-day median."


def test_it_compares_nothing_for_a_release_never_deployed(history):
    assert compare_with_project(Release.objects.get(version="2.0.0")) is None
