from __future__ import annotations

import httpx
import pytest

from monitoring.integrations.base import CheckSpec, Connection
from monitoring.integrations.parity import EnvironmentParity
from tests.monitoring.helpers import HTTP_FAILURES, assert_error, observe, observe_all, ok

STAGING = "https://staging.shop.example.com/version.json"
PRODUCTION = "https://shop.example.com/version.json"
CONN = Connection(kind="parity")
SPEC = CheckSpec(
    params={"staging_url": STAGING, "production_url": PRODUCTION, "json_field": "version"}
)
ADAPTER = EnvironmentParity()


def test_it_passes_when_both_environments_agree():
    observation, api = observe(
        ADAPTER, CONN, SPEC, ok("parity", "staging_version"), ok("parity", "production_same")
    )
    assert [str(r.url) for r in api.requests] == [STAGING, PRODUCTION]
    assert observation.status == "passing"
    assert observation.value == "1.2.0"
    assert observation.url == PRODUCTION


def test_it_fails_when_they_differ_and_shows_both_values():
    observation, _ = observe(
        ADAPTER, CONN, SPEC, ok("parity", "staging_version"), ok("parity", "production_version")
    )
    assert observation.status == "failing"
    assert observation.value == "different"
    assert "staging: '1.2.0'" in observation.detail
    assert "production: '1.1.4'" in observation.detail


def test_it_compares_nested_fields():
    spec = CheckSpec(
        params={
            "staging_url": STAGING,
            "production_url": PRODUCTION,
            "json_field": "build.migrations",
        }
    )
    observation, _ = observe(
        ADAPTER, CONN, spec, ok("parity", "staging_version"), ok("parity", "production_version")
    )
    assert observation.status == "failing"
    assert "staging: '87', production: '85'" in observation.detail


def test_it_cannot_judge_when_either_side_lacks_the_field():
    observation, _ = observe(
        ADAPTER,
        CONN,
        SPEC,
        ok("parity", "staging_version"),
        httpx.Response(200, json={"build": {"sha": "abc"}}),
    )
    assert observation.status == "needs_judgement"
    assert "production" in observation.detail
    assert "staging: '1.2.0', production: missing" in observation.detail


def test_it_cannot_judge_when_both_lack_the_field():
    spec = CheckSpec(
        params={"staging_url": STAGING, "production_url": PRODUCTION, "json_field": "release"}
    )
    observation, _ = observe(
        ADAPTER, CONN, spec, ok("parity", "staging_version"), ok("parity", "production_same")
    )
    assert observation.status == "needs_judgement"


def test_it_shares_the_two_requests_between_checks_on_different_fields():
    sha = CheckSpec(
        params={"staging_url": STAGING, "production_url": PRODUCTION, "json_field": "build.sha"}
    )
    observations, api = observe_all(
        ADAPTER,
        CONN,
        [SPEC, sha],
        ok("parity", "staging_version"),
        ok("parity", "production_same"),
    )
    assert len(api.requests) == 2
    assert [o.status for o in observations] == ["passing", "passing"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_a_failing_staging_endpoint_as_an_error(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, reply)
    assert_error(observation, label, permanent, retry_after)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_reports_a_failing_production_endpoint_as_an_error(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, SPEC, ok("parity", "staging_version"), reply)
    assert_error(observation, label, permanent, retry_after)


def test_it_needs_both_urls_and_a_field():
    spec = CheckSpec(params={"staging_url": STAGING, "json_field": "version"})
    observation, api = observe(ADAPTER, CONN, spec)
    assert_error(observation, "misconfigured", True, None)
    assert api.requests == []


def test_it_sends_the_token_only_to_the_integrations_own_origin():
    conn = Connection(kind="parity", base_url="https://shop.example.com", secrets={"token": "p-t"})
    _, api = observe(
        ADAPTER, conn, SPEC, ok("parity", "staging_version"), ok("parity", "production_same")
    )
    assert [r.headers.get("Authorization") for r in api.requests] == [None, "Bearer p-t"]


def test_it_does_not_show_a_whole_object_it_was_pointed_at():
    spec = CheckSpec(
        params={"staging_url": STAGING, "production_url": PRODUCTION, "json_field": "db"}
    )
    secret = {"db": {"host": "10.0.0.5", "password": "hunter2"}}
    observation, _ = observe(
        ADAPTER, CONN, spec, httpx.Response(200, json=secret), httpx.Response(200, json=secret)
    )
    assert observation.status == "needs_judgement"
    assert "hunter2" not in observation.detail + observation.value
