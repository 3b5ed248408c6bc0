from __future__ import annotations

import json

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.newrelic import NewRelicNrql
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok

NRQL = (
    "SELECT percentage(count(*), WHERE error IS true) FROM Transaction "
    "WHERE appName = 'shop' SINCE 5 minutes ago"
)
CONN = Connection(kind="newrelic", config={"account_id": "1234567"}, secrets={"api_key": "NRAK-1"})
SPEC = CheckSpec(params={"nrql": NRQL, "unit": "%"}, comparator="lt", threshold=1)
ADAPTER = NewRelicNrql()


def test_it_passes_when_the_value_is_within_the_threshold():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("newrelic", "nrql_ok"))
    assert observation.status == "passing"
    assert observation.value == "0.42 %"
    assert observation.numeric == 0.42


def test_it_posts_the_nrql_as_a_graphql_variable():
    _, api = observe(ADAPTER, CONN, SPEC, ok("newrelic", "nrql_ok"))
    request = api.last
    assert request.method == "POST"
    assert str(request.url) == "https://api.newrelic.com/graphql"
    assert request.headers["API-Key"] == "NRAK-1"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body["variables"] == {"accountId": 1234567, "nrql": NRQL}
    assert "nrql(query: $nrql)" in body["query"]


def test_it_uses_the_eu_endpoint():
    conn = Connection(
        kind="newrelic",
        config={"account_id": "1234567", "region": "EU"},
        secrets={"api_key": "NRAK-1"},
    )
    observation, api = observe(ADAPTER, conn, SPEC, ok("newrelic", "nrql_ok"))
    assert str(api.last.url) == "https://api.eu.newrelic.com/graphql"
    assert observation.url == "https://one.eu.newrelic.com"


def test_it_fails_when_the_value_breaches_the_threshold():
    spec = CheckSpec(
        params={"nrql": "SELECT count(*) FROM TransactionError"}, comparator="lte", threshold=10
    )
    observation, _ = observe(ADAPTER, CONN, spec, ok("newrelic", "nrql_count"))
    assert observation.status == "failing"
    assert observation.numeric == 1000


def test_it_reads_a_named_nested_field():
    spec = CheckSpec(
        params={
            "nrql": "SELECT percentile(duration, 95) FROM Transaction",
            "field": "percentile.duration.95",
        },
        comparator="lt",
        threshold=0.5,
    )
    observation, _ = observe(ADAPTER, CONN, spec, ok("newrelic", "nrql_percentile"))
    assert observation.status == "failing"
    assert observation.numeric == 0.734


def test_it_cannot_judge_an_empty_result():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("newrelic", "nrql_empty"))
    assert observation.status == "needs_judgement"


def test_it_cannot_judge_a_null_value():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("newrelic", "nrql_null"))
    assert observation.status == "needs_judgement"


def test_it_reports_graphql_errors_that_come_with_http_200():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("newrelic", "nrql_errors"))
    assert observation.status == "error"
    assert "NRQL Syntax Error" in observation.detail


def test_it_reports_an_answer_without_results_as_an_error():
    reply = httpx.Response(200, json={"data": {"actor": {"account": None}}})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "unreadable response", False, None)


def test_it_asks_for_a_field_name_when_the_row_has_several_numbers():
    reply = httpx.Response(
        200,
        json={
            "data": {"actor": {"account": {"nrql": {"results": [{"count": 3, "average": 1.5}]}}}}
        },
    )
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "misconfigured", True, None)


def test_it_shares_one_query_between_checks():
    specs = [SPEC, CheckSpec(params={"nrql": NRQL}, comparator="lt", threshold=0.1)]
    observations, api = observe_all(ADAPTER, CONN, specs, ok("newrelic", "nrql_ok"))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["passing", "failing"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_needs_a_numeric_account_id():
    conn = Connection(kind="newrelic", config={"account_id": "acme"}, secrets={"api_key": "k"})
    observation, api = observe(ADAPTER, conn, SPEC)
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
