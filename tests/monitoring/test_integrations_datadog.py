from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.datadog import DatadogMonitor
from tests.monitoring.helpers import (
    HTTP_FAILURES,
    NOW,
    assert_error,
    observe,
    observe_all,
    ok,
)

CONN = Connection(
    kind="datadog",
    config={"site": "datadoghq.eu"},
    secrets={"api_key": "dd-api", "app_key": "dd-app"},
)
MONITOR = CheckSpec(params={"monitor_id": 12345})
QUERY = "sum:trace.http.request.errors{env:prod}"
METRIC = CheckSpec(params={"query": QUERY}, comparator="lte", threshold=5)
ADAPTER = DatadogMonitor()


def test_it_passes_when_the_monitor_is_ok():
    observation, _ = observe(ADAPTER, CONN, MONITOR, ok("datadog", "monitor_ok"))
    assert observation.status == "passing"
    assert observation.value == "OK"
    assert observation.url == "https://app.datadoghq.eu/monitors/12345"


def test_it_reads_the_monitor_from_the_sites_api_with_both_keys():
    _, api = observe(ADAPTER, CONN, MONITOR, ok("datadog", "monitor_ok"))
    request = api.last
    assert str(request.url) == "https://api.datadoghq.eu/api/v1/monitor/12345"
    assert request.headers["DD-API-KEY"] == "dd-api"
    assert request.headers["DD-APPLICATION-KEY"] == "dd-app"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("monitor_alert", "failing"),
        ("monitor_warn", "failing"),
        ("monitor_no_data", "needs_judgement"),
        ("monitor_unknown_state", "needs_judgement"),
    ],
)
def test_it_maps_monitor_states(name, status):
    observation, _ = observe(ADAPTER, CONN, MONITOR, ok("datadog", name))
    assert observation.status == status


@pytest.mark.parametrize("state", ["Unknown", "Skipped", "Ignored", None])
def test_it_cannot_judge_undecided_states(state):
    body = {"id": 1, "name": "m", "overall_state": state}
    observation, _ = observe(ADAPTER, CONN, MONITOR, httpx.Response(200, json=body))
    assert observation.status == "needs_judgement"


def test_it_lets_a_warn_pass_when_the_check_says_so():
    spec = CheckSpec(params={"monitor_id": 12345, "warn_fails": False})
    observation, _ = observe(ADAPTER, CONN, spec, ok("datadog", "monitor_warn"))
    assert observation.status == "passing"
    assert observation.value == "Warn"


def test_it_compares_the_last_point_of_a_metric_query():
    observation, _ = observe(ADAPTER, CONN, METRIC, ok("datadog", "query_ok"))
    # The last point is null (the bucket is still filling), so the one before it counts.
    assert observation.status == "passing"
    assert observation.numeric == 2.0


def test_it_fails_a_metric_over_the_threshold():
    spec = CheckSpec(params={"query": QUERY}, comparator="lt", threshold=1)
    observation, _ = observe(ADAPTER, CONN, spec, ok("datadog", "query_ok"))
    assert observation.status == "failing"
    assert observation.numeric == 2.0


def test_it_queries_the_last_window_of_seconds():
    spec = CheckSpec(params={"query": QUERY, "window": 600}, comparator="lte", threshold=5)
    _, api = observe(ADAPTER, CONN, spec, ok("datadog", "query_ok"))
    params = api.last.url.params
    assert api.last.url.path == "/api/v1/query"
    assert params["query"] == QUERY
    assert params["to"] == str(int(NOW))
    assert params["from"] == str(int(NOW) - 600)


def test_it_uses_the_api_host_of_a_newer_site():
    conn = Connection(kind="datadog", config={"site": "us5.datadoghq.com"}, secrets=CONN.secrets)
    observation, api = observe(ADAPTER, conn, MONITOR, ok("datadog", "monitor_ok"))
    assert api.last.url.host == "api.us5.datadoghq.com"
    assert observation.url == "https://us5.datadoghq.com/monitors/12345"


def test_it_cannot_judge_a_query_without_series():
    observation, _ = observe(ADAPTER, CONN, METRIC, ok("datadog", "query_empty"))
    assert observation.status == "needs_judgement"


def test_it_reports_a_query_error_status():
    observation, _ = observe(ADAPTER, CONN, METRIC, ok("datadog", "query_error"))
    assert observation.status == "error"
    assert "scope_expr" in observation.detail


def test_it_shares_a_monitor_between_checks():
    lenient = CheckSpec(params={"monitor_id": "12345", "warn_fails": "no"})
    observations, api = observe_all(
        ADAPTER, CONN, [MONITOR, lenient], ok("datadog", "monitor_warn")
    )
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["failing", "passing"]


def test_it_waits_as_long_as_datadogs_reset_header_says():
    reply = httpx.Response(429, headers={"X-RateLimit-Reset": "17", "X-RateLimit-Remaining": "0"})
    observation, _ = observe(ADAPTER, CONN, MONITOR, reply)
    assert_error(observation, "rate limited", False, 17.0)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    for spec in (MONITOR, METRIC):
        observation, _ = observe(ADAPTER, CONN, spec, reply)
        assert_error(observation, label, permanent, retry_after)


def test_it_needs_a_monitor_or_a_query():
    observation, api = observe(ADAPTER, CONN, CheckSpec(), ok("datadog", "monitor_ok"))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
