from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection, observe_group
from monitoring.integrations.http import HttpClient
from monitoring.integrations.http_health import HttpHealth
from tests.lib.servers import serving
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


# --- what counts as a health answer ----------------------------------------------------------

LOGIN_PAGE = (
    "<!doctype html><html><head><title>Sign in</title></head>"
    '<body><form action="/login" method="post"><input name="password" type="password">'
    "</form></body></html>"
)


def test_it_fails_on_an_html_login_page_answering_200():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, html=LOGIN_PAGE))
    assert observation.status == "failing"
    assert observation.value == "HTML page"
    assert "not a health answer" in observation.detail
    assert "password" not in observation.detail


def test_it_fails_a_field_check_on_an_html_page_before_reading_it():
    spec = CheckSpec(params={"url": URL, "json_field": "status", "expected": "ok"})
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, html=LOGIN_PAGE))
    assert observation.status == "failing"


def test_it_passes_an_html_page_when_the_check_expects_html_and_its_text():
    spec = CheckSpec(
        params={"url": URL, "expected_content_type": "text/html", "expected_text": "All good"}
    )
    page = "<html><body><p>All good</p></body></html>"
    assert observe(ADAPTER, CONN, spec, httpx.Response(200, html=page))[0].status == "passing"
    failing, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, html=LOGIN_PAGE))
    assert failing.status == "failing"
    assert failing.detail == f"{URL} answered without the expected text."


def test_it_fails_on_a_content_type_other_than_the_expected_one():
    spec = CheckSpec(params={"url": URL, "expected_content_type": "application/json"})
    observation, _ = observe(ADAPTER, CONN, spec, httpx.Response(200, text="OK"))
    assert observation.status == "failing"
    assert observation.value == "text/plain"
    passing, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert passing.status == "passing"


def test_it_passes_a_plain_text_ok():
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, text="OK"))
    assert observation.status == "passing"


def test_it_fails_a_redirect_to_another_origin_without_following_it():
    login = "https://login.example.net/sso?return=https%3A%2F%2Fshop.example.com%2Fhealthz"
    observation, api = observe(
        ADAPTER, CONN, SPEC, httpx.Response(302, headers={"Location": login})
    )
    assert len(api.requests) == 1
    assert observation.status == "failing"
    assert observation.value == "redirected away"
    assert "https://login.example.net" in observation.detail
    assert "return=" not in observation.detail


def test_it_does_not_show_a_whole_json_object_it_was_pointed_at():
    spec = CheckSpec(params={"url": URL, "json_field": "checks", "expected": "ok"})
    observation, _ = observe(ADAPTER, CONN, spec, ok("http_health", "health_ok"))
    assert observation.status == "needs_judgement"
    assert "latency_ms" not in observation.detail + observation.value


# --- credentials go to the integration's own origin only --------------------------------------

TOKEN_CONN = Connection(
    kind="http_health", base_url="https://shop.example.com", secrets={"token": "h-t"}
)


@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example.net/steal",
        "http://shop.example.com/healthz",
        "https://shop.example.com:8443/healthz",
        "https://shop.example.com.example.net/healthz",
    ],
)
def test_it_does_not_send_the_token_to_another_origin(url):
    spec = CheckSpec(params={"url": url})
    observation, api = observe(ADAPTER, TOKEN_CONN, spec, httpx.Response(200, text="OK"))
    assert "Authorization" not in api.last.headers
    assert observation.status == "passing"


def test_it_sends_the_token_to_an_absolute_url_on_its_own_origin():
    spec = CheckSpec(params={"url": "https://shop.example.com:443/healthz"})
    _, api = observe(ADAPTER, TOKEN_CONN, spec, httpx.Response(200, text="OK"))
    assert api.last.headers["Authorization"] == "Bearer h-t"


def test_it_drops_the_token_when_a_redirect_leaves_the_origin():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "shop.example.com":
            return httpx.Response(307, headers={"Location": "https://elsewhere.example.net/h"})
        return httpx.Response(200, text="OK")

    _, api = observe(ADAPTER, TOKEN_CONN, CheckSpec(params={"url": "/healthz"}), handler)
    assert [r.headers.get("Authorization") for r in api.requests] == ["Bearer h-t"]


# --- the egress policy on a real socket ---------------------------------------------------------


def test_it_refuses_a_loopback_health_url_without_the_allowlist(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with serving() as server, HttpClient() as client:
        spec = CheckSpec(params={"url": server.url("/healthz")})
        [observation] = observe_group(ADAPTER, CONN, [spec], client)
    assert server.seen == []
    assert_error(observation, "refused destination", True, None)
    assert "loopback" in observation.detail


def test_it_reads_a_loopback_health_url_the_allowlist_allows(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with serving() as server, HttpClient() as client:
        spec = CheckSpec(params={"url": server.url("/healthz")})
        [observation] = observe_group(ADAPTER, CONN, [spec], client)
    assert observation.status == "passing"
    assert [seen.path for seen in server.seen] == ["/healthz"]
