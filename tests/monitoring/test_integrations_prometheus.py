from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.prometheus import PrometheusQuery
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok

QUERY = 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
CONN = Connection(kind="prometheus", base_url="http://prometheus.internal:9090")
SPEC = CheckSpec(params={"query": QUERY, "unit": "%"}, comparator="lt", threshold=1)
ADAPTER = PrometheusQuery()


def test_it_passes_when_the_value_is_within_the_threshold():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "vector_ok"))
    assert observation.status == "passing"
    assert observation.value == "0.42 %"
    assert observation.numeric == 0.42
    assert observation.url.startswith("http://prometheus.internal:9090/graph?g0.expr=")


def test_it_sends_an_instant_query():
    _, api = observe(ADAPTER, CONN, SPEC, ok("prometheus", "vector_ok"))
    assert api.last.method == "GET"
    assert api.last.url.path == "/api/v1/query"
    assert api.last.url.params["query"] == QUERY
    assert "Authorization" not in api.last.headers


def test_it_sends_a_bearer_token_when_configured():
    conn = Connection(kind="prometheus", base_url=CONN.base_url, secrets={"token": "prom-t"})
    _, api = observe(ADAPTER, conn, SPEC, ok("prometheus", "vector_ok"))
    assert api.last.headers["Authorization"] == "Bearer prom-t"


def test_it_fails_when_the_value_breaches_the_threshold():
    spec = CheckSpec(params={"query": QUERY}, comparator="lt", threshold=0.4)
    observation, _ = observe(ADAPTER, CONN, spec, ok("prometheus", "vector_ok"))
    assert observation.status == "failing"
    assert observation.numeric == 0.42
    assert "must be below 0.4" in observation.detail


def test_it_fails_when_any_series_breaches():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "vector_multi"))
    assert observation.status == "failing"
    assert observation.numeric == 2.5
    assert 'instance="web-2:9100"' in observation.detail
    assert "(1 of 2 series)" in observation.detail


def test_it_reads_a_scalar():
    spec = CheckSpec(params={"query": "scalar(up)"}, comparator="gte", threshold=1)
    observation, _ = observe(ADAPTER, CONN, spec, ok("prometheus", "scalar"))
    assert observation.status == "passing"
    assert observation.numeric == 1.5


def test_it_cannot_judge_an_empty_result():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "vector_empty"))
    assert observation.status == "needs_judgement"
    assert observation.value == "no data"


def test_it_cannot_judge_nan():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "vector_nan"))
    assert observation.status == "needs_judgement"


def test_it_refuses_a_range_query_result():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "matrix"))
    assert_error(observation, "misconfigured", True, None)
    assert "matrix" in observation.detail


def test_it_reports_a_status_error_as_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "error_bad_data"))
    assert observation.status == "error"
    assert observation.permanent is True
    assert "bad_data" in observation.detail


def test_it_reports_a_query_timeout_as_a_transient_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("prometheus", "error_timeout"))
    assert observation.status == "error"
    assert observation.permanent is False


def test_it_reports_the_400_of_a_bad_query_with_prometheus_message():
    reply = httpx.Response(
        400, json={"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rejected", True, None)
    assert "parse error at char 4" in observation.detail


def test_it_reports_an_unknown_status_as_an_error():
    reply = httpx.Response(200, json={"status": "maybe", "data": {}})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert observation.status == "error"


def test_it_cannot_read_a_non_numeric_sample():
    body = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "abc"]}]},
    }
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert observation.status == "needs_judgement"


def test_it_shares_one_query_between_checks_with_different_thresholds():
    specs = [SPEC, CheckSpec(params={"query": QUERY}, comparator="lt", threshold=0.1)]
    observations, api = observe_all(ADAPTER, CONN, specs, ok("prometheus", "vector_ok"))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["passing", "failing"]


def test_it_needs_a_threshold():
    spec = CheckSpec(params={"query": QUERY})
    observation, _ = observe(ADAPTER, CONN, spec, ok("prometheus", "vector_ok"))
    assert_error(observation, "misconfigured", True, None)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_reports_503_query_aborts_as_rate_limited():
    reply = httpx.Response(503, json={"status": "error", "errorType": "timeout", "error": "x"})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rate limited", False, None)
