"""The shared pieces: the HTTP client, rate-limit headers, judging, grouping, the registry."""

from __future__ import annotations

import datetime as dt
import logging
import math
from decimal import Decimal

import httpx
import pytest

from lib import outbound
from monitoring.integrations.base import (
    MISSING,
    AuthError,
    BadRequest,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Evidence,
    IntegrationError,
    NotFound,
    RateLimited,
    Unavailable,
    compare,
    dig,
    format_number,
    group_key,
    judge_number,
    observe_group,
)
from monitoring.integrations.github import GitHubChecks
from monitoring.integrations.http import HttpClient, retry_after
from monitoring.integrations.registry import ADAPTERS, KINDS, get_adapter
from monitoring.integrations.sentry import SentryReleaseHealth
from tests.monitoring.helpers import NOW, FakeApi, observe_all, ok

SHA = "009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d"
URL = "https://api.example.com/thing"


def request(*replies: object, provider: str | None = None) -> FakeApi:
    """Send one GET through the client; returns the fake API with what it saw."""
    api = FakeApi(replies)  # type: ignore[arg-type]
    with api.client() as client:
        client.get(URL, what="the thing", provider=provider)
    return api


def raised(*replies: object, provider: str | None = None) -> IntegrationError:
    with pytest.raises(IntegrationError) as info:
        request(*replies, provider=provider)
    return info.value


# --- rate-limit headers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "headers", "wait"),
    [
        pytest.param(None, {"Retry-After": "30"}, 30.0, id="retry-after-seconds"),
        pytest.param(
            None, {"Retry-After": "Tue, 14 Nov 2023 22:15:00 GMT"}, 100.0, id="retry-after-date"
        ),
        pytest.param(
            "github",
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)},
            120.0,
            id="github-reset",
        ),
        pytest.param(
            "github",
            {"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(int(NOW) + 120)},
            60.0,
            id="github-remaining-not-zero-waits-a-minute",
        ),
        pytest.param("gitlab", {"RateLimit-Reset": str(int(NOW) + 45)}, 45.0, id="gitlab"),
        pytest.param("sentry", {"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 9)}, 9.0, id="sentry"),
        pytest.param(
            "jira", {"X-RateLimit-Reset": "2023-11-14T22:15:40Z"}, 140.0, id="jira-iso8601"
        ),
        pytest.param("datadog", {"X-RateLimit-Reset": "17"}, 17.0, id="datadog-seconds"),
        pytest.param(
            "gitlab",
            {"Retry-After": "5", "RateLimit-Reset": str(int(NOW) + 45)},
            5.0,
            id="retry-after-wins",
        ),
        pytest.param("gitlab", {}, None, id="nothing"),
        pytest.param("jira", {"X-RateLimit-Reset": "soon"}, None, id="garbage"),
        pytest.param("sentry", {"X-Sentry-Rate-Limit-Reset": str(int(NOW) - 9)}, 0.0, id="past"),
    ],
)
def test_it_reads_each_providers_rate_limit_headers(provider, headers, wait):
    # NOW is 2023-11-14T22:13:20Z.
    assert retry_after(httpx.Headers(headers), provider=provider, now=NOW) == wait


def test_it_reports_429_as_rate_limited_with_the_wait():
    error = raised(httpx.Response(429, headers={"Retry-After": "30"}, text="Retry later"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 30.0
    assert error.permanent is False


def test_it_reports_503_as_rate_limited_with_the_providers_reset():
    headers = {"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 60)}
    error = raised(httpx.Response(503, headers=headers), provider="sentry")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 60.0


def test_it_takes_a_github_403_with_no_remaining_budget_for_a_rate_limit():
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 300)}
    error = raised(httpx.Response(403, headers=headers), provider="github")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 300.0
    assert error.permanent is False


def test_it_takes_a_plain_403_for_a_permission_error():
    headers = {"x-ratelimit-remaining": "4999"}
    error = raised(
        httpx.Response(403, headers=headers, json={"message": "Resource not accessible"}),
        provider="github",
    )
    assert isinstance(error, AuthError)
    assert error.permanent is True
    assert "Resource not accessible" in str(error)


# --- status codes and transport failures ----------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error_type", "permanent"),
    [
        (httpx.Response(401), AuthError, True),
        (httpx.Response(404), NotFound, True),
        (httpx.Response(400, json={"error": "bad query"}), BadRequest, True),
        (httpx.Response(422), BadRequest, True),
        (httpx.Response(500), Unavailable, False),
        (httpx.Response(502), Unavailable, False),
        (
            httpx.Response(301, headers={"Location": "https://elsewhere.example/x?t=1"}),
            BadRequest,
            True,
        ),
    ],
)
def test_it_maps_status_codes_to_errors(reply, error_type, permanent):
    error = raised(reply)
    assert type(error) is error_type
    assert error.permanent is permanent


def test_it_says_what_was_not_found():
    error = raised(httpx.Response(404))
    assert str(error) == "The thing was not found (HTTP 404)."


def test_it_includes_the_providers_message_for_refused_requests():
    error = raised(httpx.Response(400, json={"status": "error", "error": "bad query"}))
    assert "bad query" in str(error)


def test_it_does_not_follow_redirects_that_could_carry_credentials_elsewhere():
    api = FakeApi([httpx.Response(302, headers={"Location": "https://evil.example/"})])
    with api.client() as client, pytest.raises(BadRequest):
        client.get(URL, what="the thing", headers={"PRIVATE-TOKEN": "glpat-secret"})
    assert len(api.requests) == 1


def test_it_retries_connection_errors_twice_then_gives_up():
    api = FakeApi([httpx.ConnectError("Connection refused")])
    with api.client() as client, pytest.raises(Unavailable) as info:
        client.get(URL, what="the thing")
    assert len(api.requests) == 3
    assert info.value.permanent is False


def test_it_succeeds_after_a_connection_error():
    api = request(httpx.ConnectTimeout("slow connect"), httpx.Response(200, json={}))
    assert len(api.requests) == 2


def test_it_does_not_retry_read_timeouts():
    api = FakeApi([httpx.ReadTimeout("slow read")])
    with api.client() as client, pytest.raises(Unavailable) as info:
        client.get(URL, what="the thing")
    assert len(api.requests) == 1
    assert "No answer from api.example.com" in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ConnectTimeout("filtered"),
        httpx.ReadTimeout("slow read"),
        httpx.RemoteProtocolError("reset"),
    ],
)
def test_it_words_every_failure_to_get_an_answer_alike(failure):
    # Refused, filtered and open-but-silent ports must read the same to whoever typed the URL.
    api = FakeApi([failure])
    with api.client() as client, pytest.raises(Unavailable) as info:
        client.get(URL, what="the thing")
    assert str(info.value) == (
        "Could not get an answer for the thing: No answer from api.example.com."
    )


def test_it_reports_invalid_json_as_a_bad_response():
    api = FakeApi([httpx.Response(200, text="<html>login</html>")])
    with api.client() as client, pytest.raises(BadResponse):
        client.get_json(URL, what="the thing")


def test_it_reports_an_answer_too_large_to_read_as_a_bad_response():
    api = FakeApi([httpx.Response(200, content=b"x" * (outbound.MAX_ANSWER_BYTES + 1))])
    with api.client() as client, pytest.raises(BadResponse, match="not read"):
        client.get(URL, what="the thing")


def test_it_returns_304_to_the_caller_and_sends_the_etag():
    api = FakeApi([httpx.Response(304)])
    with api.client() as client:
        response = client.get(URL, what="the thing", etag='W/"abc"')
    assert response.status_code == 304
    assert api.last.headers["If-None-Match"] == 'W/"abc"'


def test_it_sets_connect_and_read_timeouts():
    api = FakeApi([httpx.Response(200, json={})])
    with api.client() as client:
        client.get(URL, what="the thing")
    timeouts = api.last.extensions["timeout"]
    assert timeouts["connect"] == 5.0
    assert timeouts["read"] == 10.0


def test_it_never_logs_credentials(caplog):
    caplog.set_level(logging.DEBUG)
    conn = Connection(kind="github", config={"repo": "acme/shop"}, secrets={"token": "ghp_s3cr3t"})
    observe_all(
        GitHubChecks(), conn, [CheckSpec(sha=SHA)], httpx.Response(401, json={"message": "no"})
    )
    assert caplog.records
    assert "ghp_s3cr3t" not in caplog.text
    assert "ghp_s3cr3t" not in repr(conn)


def test_it_keeps_the_query_string_out_of_its_own_log_lines(caplog):
    caplog.set_level(logging.DEBUG, logger="monitoring")
    api = FakeApi([httpx.Response(200, json={})])
    with api.client() as client:
        client.get(URL, what="the thing", params={"api_key": "k3y"})
    assert "k3y" not in caplog.text


# --- judging --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "expected"),
    [
        (0.5, "lt", 1, True),
        (1, "lt", 1, False),
        (1, "lte", 1, True),
        (1.0000000001, "lte", 1, True),
        (1.1, "lte", 1, False),
        (2, "gt", 1, True),
        (1, "gt", 1, False),
        (99.5, "gte", 99.5, True),
        (99.4, "gte", 99.5, False),
        (0.1 + 0.2, "eq", 0.3, True),
        (0, "eq", 1, False),
        (0, "ne", 1, True),
        (1, "ne", 1, False),
    ],
)
def test_it_compares_with_thresholds(value, comparator, threshold, expected):
    assert compare(value, comparator, threshold) is expected


def test_it_refuses_an_unknown_comparator():
    with pytest.raises(ConfigError):
        compare(1, "approximately", 1)


def test_it_cannot_judge_a_missing_or_nan_value():
    spec = CheckSpec(comparator="lt", threshold=1)
    assert judge_number(None, spec, subject="x").status == "needs_judgement"
    assert judge_number(math.nan, spec, subject="x").status == "needs_judgement"


def test_it_needs_a_comparator_and_a_threshold():
    with pytest.raises(ConfigError):
        judge_number(0.1, CheckSpec(threshold=1), subject="x")
    with pytest.raises(ConfigError):
        judge_number(0.1, CheckSpec(comparator="lt"), subject="x")


def test_it_writes_the_rule_into_the_detail():
    observation = judge_number(
        0.42, CheckSpec(comparator="lt", threshold=1), subject="error rate", unit="%"
    )
    assert observation.status == "passing"
    assert observation.value == "0.42 %"
    assert observation.numeric == 0.42
    assert observation.detail == "error rate is 0.42 %; it must be below 1 %."


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (0.42, "0.42"), (99.5234, "99.5234"), (1 / 3, "0.3333"), (0.00012, "0.00012")],
)
def test_it_formats_numbers_for_people(value, text):
    assert format_number(value) == text


def test_it_judges_decimal_thresholds():
    spec = CheckSpec(comparator="gte", threshold=Decimal("99.5"))  # type: ignore[arg-type]
    assert judge_number(99.52, spec, subject="x").status == "passing"


def test_it_digs_dotted_paths():
    data = {"a": {"b": [{"c": 1}, {"c": False}]}}
    assert dig(data, "a.b.0.c") == 1
    assert dig(data, "a.b.1.c") is False
    assert dig(data, "a.b.-1.c") is False
    assert dig(data, "a.b.2.c") is MISSING
    assert dig(data, "a.x") is MISSING
    assert dig([], "0") is MISSING
    assert dig({"percentile.duration": {"95": 0.7}}, "percentile.duration.95") == 0.7
    assert dig({"a.b": 1, "a": {"b": 2}}, "a.b") == 1


# --- grouping -------------------------------------------------------------------------------

GITHUB = Connection(kind="github", config={"repo": "acme/shop"}, secrets={"token": "t"})


def test_it_fetches_once_for_a_group_sharing_a_request_key():
    adapter = GitHubChecks()
    specs = [
        CheckSpec(sha=SHA),
        CheckSpec(sha=SHA, params={"check_name": "lint"}),
        CheckSpec(sha=SHA, params={"check_name": "unit-tests"}),
    ]
    assert len({adapter.request_key(GITHUB, spec) for spec in specs}) == 1

    observations, api = observe_all(
        adapter,
        GITHUB,
        specs,
        ok("github", "check_runs_failure"),
        ok("github", "combined_status_empty"),
    )

    # One read of the commit: its check runs and its combined status.
    assert [r.url.path.rsplit("/", 1)[-1] for r in api.requests] == ["check-runs", "status"]
    assert [o.status for o in observations] == ["failing", "passing", "failing"]


def test_it_refuses_a_group_with_different_request_keys():
    specs = [CheckSpec(sha=SHA), CheckSpec(sha="f" * 40)]
    transport = httpx.MockTransport(lambda r: httpx.Response(500))
    with HttpClient(transport=transport) as client, pytest.raises(ValueError, match="one request"):
        observe_group(GitHubChecks(), GITHUB, specs, client)


def test_it_gives_every_check_of_the_group_the_same_error():
    specs = [CheckSpec(sha=SHA), CheckSpec(sha=SHA, params={"check_name": "lint"})]
    observations, api = observe_all(GitHubChecks(), GITHUB, specs, httpx.Response(401))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["error", "error"]
    assert all(o.permanent for o in observations)


def test_it_keeps_one_checks_misconfiguration_to_that_check():
    conn = Connection(
        kind="sentry", config={"org": "acme", "project": "4505"}, secrets={"token": "t"}
    )
    specs = [
        CheckSpec(version="shop@1.2.0", comparator="gte", threshold=99),
        CheckSpec(version="shop@1.2.0", comparator="gte", threshold=99, params={"metric": "?"}),
    ]
    observations, _ = observe_all(
        SentryReleaseHealth(), conn, specs, ok("sentry", "release_health")
    )
    assert [o.status for o in observations] == ["passing", "error"]
    assert observations[1].value == "misconfigured"


def test_it_turns_an_unexpected_payload_shape_into_an_error():
    conn = Connection(
        kind="jira", base_url="https://acme.atlassian.net", secrets={"email": "e", "token": "t"}
    )
    body = {"issues": [{"key": "REL-1", "fields": ["not", "an", "object"]}], "isLast": True}
    observations, _ = observe_all(
        get_adapter("jira"),
        conn,
        [CheckSpec(params={"jql": "project = REL"})],
        httpx.Response(200, json=body),
    )
    assert observations[0].status == "error"
    assert observations[0].value == "unreadable response"


def test_it_gives_a_misconfigured_check_a_group_of_its_own():
    adapter = GitHubChecks()
    broken = Connection(kind="github", secrets={"token": "t"})
    assert group_key(adapter, broken, CheckSpec(sha=SHA)) != group_key(
        adapter, broken, CheckSpec(sha=SHA)
    )
    assert group_key(adapter, GITHUB, CheckSpec(sha=SHA)) == group_key(
        adapter, GITHUB, CheckSpec(sha=SHA, params={"check_name": "lint"})
    )
    observations, api = observe_all(adapter, broken, [CheckSpec(sha=SHA)])
    assert api.requests == []
    assert observations[0].status == "error"
    assert observations[0].value == "misconfigured"
    assert "'repo'" in observations[0].detail


def test_it_returns_nothing_for_an_empty_group():
    with HttpClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        assert observe_group(GitHubChecks(), GITHUB, [], client) == []


# --- registry -------------------------------------------------------------------------------


def test_it_finds_an_adapter_for_every_kind():
    assert [kind for kind, _ in KINDS] == list(ADAPTERS)
    assert {
        "github",
        "gitlab",
        "jenkins",
        "circleci",
        "prometheus",
        "datadog",
        "newrelic",
        "sentry",
        "jira",
        "http_health",
        "parity",
        "bitbucket",
        "launchdarkly",
        "split",
        "unleash",
        "clickup",
        "trello",
    } == set(ADAPTERS)
    for kind, label in KINDS:
        adapter = get_adapter(kind)
        assert adapter.kind == kind
        assert adapter.label == label


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ConfigError):
        get_adapter("teletype")


def test_it_describes_every_adapters_fields_for_forms():
    for adapter in ADAPTERS.values():
        assert adapter.param_fields, adapter.kind
        for spec in adapter.secret_fields:
            # User names and emails are credentials that are not secret; keys and tokens are.
            if any(word in spec.name for word in ("token", "key", "password")):
                assert spec.secret, (adapter.kind, spec.name)
        for spec in (*adapter.config_fields, *adapter.param_fields):
            assert not spec.secret, (adapter.kind, spec.name)


# --- ordering of results ------------------------------------------------------------------------


def _at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, 10, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("new", "old", "newer"),
    [
        (Evidence("check_run:2", _at(5), done=True), None, True),
        (
            Evidence("check_run:2", _at(5), done=True),
            Evidence("check_run:1", _at(4), done=True),
            True,
        ),
        (
            Evidence("check_run:1", _at(4), done=True),
            Evidence("check_run:2", _at(5), done=True),
            False,
        ),
        # The same report again is not newer: a replay changes nothing.
        (
            Evidence("check_run:1", _at(4), done=True),
            Evidence("check_run:1", _at(4), done=True),
            False,
        ),
        # One run: finished beats running, never the other way round.
        (Evidence("check_run:1", _at(4), done=True), Evidence("check_run:1", _at(4)), True),
        (Evidence("check_run:1", _at(9)), Evidence("check_run:1", _at(4), done=True), False),
        # A later attempt of a run beats an earlier one, whatever the clocks say.
        (Evidence("workflow_run:7", _at(1), 2, True), Evidence("workflow_run:7", _at(3)), True),
        (Evidence("workflow_run:7", _at(9), 1, True), Evidence("workflow_run:7", _at(3), 2), False),
        # Without the provider's time nothing can be ordered.
        (
            Evidence("check_run:3", None, done=True),
            Evidence("check_run:1", _at(4), done=True),
            False,
        ),
        # Same time: the provider's later id wins, within one kind of run.
        (Evidence("status:9", _at(4), done=True), Evidence("status:8", _at(4), done=True), True),
        (
            Evidence("status:9", _at(4), done=True),
            Evidence("check_run:8", _at(4), done=True),
            False,
        ),
    ],
)
def test_it_orders_results_by_the_providers_own_facts(new, old, newer):
    assert new.is_newer_than(old) is newer
    assert Evidence.from_json(new.as_json()) == new
