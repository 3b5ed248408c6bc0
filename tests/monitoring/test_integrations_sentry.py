from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.sentry import SentryReleaseHealth
from tests.monitoring.helpers import (
    HTTP_FAILURES,
    NOW,
    assert_error,
    observe,
    observe_all,
    ok,
    recorded,
)

CONN = Connection(
    kind="sentry", config={"org": "acme", "project": "4505"}, secrets={"token": "sntrys_x"}
)
SPEC = CheckSpec(version="shop@1.2.0", comparator="gte", threshold=99.5)
ADAPTER = SentryReleaseHealth()


def test_it_passes_when_crash_free_sessions_meet_the_threshold():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("sentry", "release_health"))
    assert observation.status == "passing"
    assert observation.value == "99.52 %"
    assert observation.numeric == 99.52
    assert "2500 sessions" in observation.detail
    assert (
        observation.url
        == "https://sentry.io/organizations/acme/releases/shop%401.2.0/?project=4505"
    )


def test_it_asks_for_the_release_with_health_data_for_the_project():
    _, api = observe(ADAPTER, CONN, SPEC, ok("sentry", "release_health"))
    request = api.last
    assert request.url.raw_path.startswith(b"/api/0/organizations/acme/releases/shop%401.2.0/?")
    assert request.url.params["health"] == "1"
    assert request.url.params["project"] == "4505"
    assert request.headers["Authorization"] == "Bearer sntrys_x"


def test_it_fails_when_crash_free_users_are_below_the_threshold():
    spec = CheckSpec(
        version="shop@1.2.0",
        params={"metric": "crash_free_users"},
        comparator="gte",
        threshold=99.5,
    )
    observation, _ = observe(ADAPTER, CONN, spec, ok("sentry", "release_health"))
    assert observation.status == "failing"
    assert observation.numeric == 98.9
    assert "crash-free users" in observation.detail


def test_it_cannot_judge_a_release_without_health_data():
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("sentry", "release_no_health"))
    assert observation.status == "needs_judgement"
    assert observation.value == "no data"


def test_it_does_not_trust_figures_sentry_flags_as_without_health_data():
    body = recorded("sentry", "release_health")
    body["projects"][0]["healthData"]["hasHealthData"] = False
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert observation.status == "needs_judgement"


def test_it_cannot_judge_a_release_that_does_not_list_the_project():
    body = recorded("sentry", "release_health")
    body["projects"][0]["id"] = 9999
    body["projects"][0]["slug"] = "other"
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(200, json=body))
    assert observation.status == "needs_judgement"


def test_it_shares_one_request_between_sessions_and_users_checks():
    users = CheckSpec(
        version="shop@1.2.0", params={"metric": "crash_free_users"}, comparator="gte", threshold=98
    )
    observations, api = observe_all(ADAPTER, CONN, [SPEC, users], ok("sentry", "release_health"))
    assert len(api.requests) == 1
    assert [o.status for o in observations] == ["passing", "passing"]
    assert [o.numeric for o in observations] == [99.52, 98.9]


def test_it_waits_as_long_as_sentrys_reset_header_says():
    headers = {
        "X-Sentry-Rate-Limit-Reset": str(int(NOW) + 25),
        "X-Sentry-Rate-Limit-Remaining": "0",
    }
    observation, _ = observe(ADAPTER, CONN, SPEC, httpx.Response(429, headers=headers))
    assert_error(observation, "rate limited", False, 25.0)


def test_it_says_which_release_was_not_found():
    reply = httpx.Response(404, json={"detail": "The requested resource does not exist"})
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, "not found", True, None)
    assert "Sentry release shop@1.2.0" in observation.detail


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_http_failures_as_errors(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_needs_a_release_version():
    observation, api = observe(ADAPTER, CONN, CheckSpec(comparator="gte", threshold=99))
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []
