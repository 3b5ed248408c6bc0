from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.http_health import HttpHealth
from tests.monitoring.helpers import assert_error, observe, observe_all, ok, timeout

URL = "https://shop.example.com/healthz"
CONN = Connection(kind="http_health")
SPEC = CheckSpec(params={"url": URL})
ADAPTER = HttpHealth()


def test_it_passes_on_a_2xx_answer():
    observation, api = observe(ADAPTER, CONN, SPEC, ok("http_health", "health_ok"))
    assert observation.status == "passing"
    assert observation.value == "HTTP 200"
    assert observation.url == URL
    assert str(api.last.url) == URL
    assert "Authorization" not in api.last.headers


def test_it_fails_on_a_5xx_answer():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(503, text="unhealthy"))
    assert observation.status == "failing"
    assert observation.value == "HTTP 503"
    assert "expected 2xx" in observation.detail


def test_it_fails_on_a_404():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(404))
    assert observation.status == "failing"


def test_it_checks_an_exact_expected_status():
    spec = CheckSpec(params={"url": URL, "expected_status": "204"})
    assert observe(ADAPTER, CONN, spec, httpx.Response(204))[0].status == "passing"
    assert observe(ADAPTER, CONN, spec, httpx.Response(200))[0].status == "failing"


def test_it_follows_redirects():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(301, headers={"Location": "https://shop.example.com/health/"})
        return ok("http_health", "health_ok")

    observation, api = observe(ADAPTER, CONN, SPEC, handler)
    assert len(api.requests) == 2
    assert observation.status == "passing"


@pytest.mark.parametrize(
    ("params", "status", "value"),
    [
        ({"json_field": "status", "expected": "ok"}, "passing", "ok"),
        ({"json_field": "checks.database.status", "expected": "ok"}, "passing", "ok"),
        ({"json_field": "version", "expected": "1.1.0"}, "failing", "1.2.0"),
        ({"json_field": "checks.queue.depth", "expected": "12"}, "passing", "12"),
    ],
)
def test_it_compares_a_json_field_with_an_expected_value(params, status, value):
    spec = CheckSpec(params={"url": URL, **params})
    observation, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert observation.status == status
    assert observation.value == value


def test_it_compares_a_numeric_json_field_with_a_threshold():
    spec = CheckSpec(
        params={"url": URL, "json_field": "checks.queue.depth"}, comparator="lt", threshold=1000
    )
    healthy, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    degraded, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_degraded"))
    assert (healthy.status, healthy.numeric) == ("passing", 12)
    assert (degraded.status, degraded.numeric) == ("failing", 4200)


def test_it_matches_booleans_written_in_a_form():
    spec = CheckSpec(params={"url": URL, "json_field": "ready", "expected": "true"})
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, json={"ready": True}))
    assert observation.status == "passing"
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, json={"ready": False}))
    assert observation.status == "failing"


def test_it_cannot_judge_a_missing_field():
    spec = CheckSpec(params={"url": URL, "json_field": "checks.cache.status", "expected": "ok"})
    observation, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert observation.status == "needs_judgement"


def test_it_cannot_judge_a_non_numeric_field_against_a_threshold():
    spec = CheckSpec(params={"url": URL, "json_field": "status"}, comparator="lt", threshold=1)
    observation, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert observation.status == "needs_judgement"


def test_it_reports_malformed_json_as_an_error_when_it_needs_a_field():
    spec = CheckSpec(params={"url": URL, "json_field": "status", "expected": "ok"})
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, text='{"status": '))
    assert_error(observation, "unreadable response", False, None)


def test_it_needs_an_expectation_for_a_json_field():
    spec = CheckSpec(params={"url": URL, "json_field": "status"})
    observation, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert_error(observation, "misconfigured", True, None)


def test_it_shares_one_request_between_checks_on_the_same_url():
    specs = [
        SPEC,
        CheckSpec(params={"url": URL, "json_field": "status", "expected": "ok"}),
        CheckSpec(params={"url": URL, "json_field": "status", "expected": "degraded"}),
    ]
    observations, api = observe_all(ADAPTER, CONN, specs, ok("http_health", "health_ok"))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["passing", "passing", "failing"]


def test_it_resolves_a_relative_url_against_the_base_url_and_sends_the_token():
    conn = Connection(
        kind="http_health", base_url="https://shop.example.com/", secrets={"token": "h-t"}
    )
    _, api = observe(ADAPTER, conn, CheckSpec(params={"url": "/healthz"}), httpx.Response(200))
    assert str(api.last.url) == URL
    assert api.last.headers["Authorization"] == "Bearer h-t"


def test_it_reports_rejected_credentials_as_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(401))
    assert_error(observation, "no access", True, None)


def test_it_accepts_a_401_the_check_expects():
    spec = CheckSpec(params={"url": URL, "expected_status": 401})
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(401))
    assert observation.status == "passing"


def test_it_reports_429_as_rate_limited():
    reply = httpx.Response(429, headers={"Retry-After": "30"})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "rate limited", False, 30.0)


def test_it_reports_a_timeout_as_an_error():
    observation, _ = observe(ADAPTER, CONN, SPEC, timeout)
    assert_error(observation, "unavailable", False, None)


def test_it_reports_a_refused_connection_as_an_error():
    observation, api = observe(ADAPTER, CONN, SPEC, httpx.ConnectError("Connection refused"))
    assert len(api.requests) == 3
    assert_error(observation, "unavailable", False, None)


def test_it_needs_a_url():
    observation, api = observe(ADAPTER, CONN, CheckSpec())
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []


def test_it_needs_a_base_url_for_a_relative_url():
    observation, _ = observe(ADAPTER, CONN, CheckSpec(params={"url": "/healthz"}))
    assert_error(observation, "misconfigured", True, None)
