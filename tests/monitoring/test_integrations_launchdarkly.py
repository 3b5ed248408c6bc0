from __future__ import annotations

import json

import httpx
import pytest

from monitoring.integrations.base import BadResponse, CheckSpec, Connection, RateLimited
from monitoring.integrations.launchdarkly import LaunchDarklyFlag
from tests.monitoring.helpers import (
    HTTP_FAILURES,
    NOW,
    FakeApi,
    assert_error,
    observe,
    ok,
    recorded,
)

ADAPTER = LaunchDarklyFlag()
CONN = Connection(
    kind="launchdarkly",
    config={"project": "shop", "environments": "test,production"},
    secrets={"token": "api-0123"},
)
ALL_ENVIRONMENTS = Connection(kind="launchdarkly", config={"project": "shop"}, secrets=CONN.secrets)


def spec(condition: str, **params: str) -> CheckSpec:
    return CheckSpec(params={"flag": "new-checkout", "condition": condition, **params})


def test_it_reads_the_flag_with_the_token_as_it_is_and_the_pinned_api_version():
    _, api = observe(ADAPTER, CONN, spec("exists"), ok("launchdarkly", "flag_rollout"))
    request = api.last
    assert request.url.path == "/api/v2/flags/shop/new-checkout"
    assert request.url.params.get_list("env") == ["test", "production"]
    assert request.headers["Authorization"] == "api-0123"
    assert request.headers["LD-API-Version"] == "20240415"


def test_it_passes_when_the_flag_exists_in_every_environment():
    observation, _ = observe(ADAPTER, CONN, spec("exists"), ok("launchdarkly", "flag_rollout"))
    assert observation.status == "passing"
    assert observation.detail == "Flag new-checkout is defined in test, production."
    assert observation.url == (
        "https://app.launchdarkly.com/projects/shop/flags/new-checkout/targeting?env=production"
    )


def test_it_reads_every_environment_of_the_project_page_by_page_when_none_are_named():
    observation, api = observe(
        ADAPTER,
        ALL_ENVIRONMENTS,
        spec("exists"),
        ok("launchdarkly", "environments_page1"),
        ok("launchdarkly", "environments_page2"),
        ok("launchdarkly", "flag_rollout"),
    )
    assert [r.url.path for r in api.requests] == [
        "/api/v2/projects/shop/environments",
        "/api/v2/projects/shop/environments",
        "/api/v2/flags/shop/new-checkout",
    ]
    assert api.requests[1].url.params["offset"] == "2"
    assert api.requests[2].url.params.get_list("env") == ["production", "test", "staging"]
    # The recorded flag has no configuration in staging.
    assert observation.status == "failing"
    assert observation.detail == "Flag new-checkout is not defined in staging."


def test_it_does_not_follow_a_next_page_on_another_origin():
    page = recorded("launchdarkly", "environments_page1")
    page["_links"]["next"]["href"] = "https://elsewhere.example/api/v2/projects/shop/environments"
    observation, api = observe(
        ADAPTER, ALL_ENVIRONMENTS, spec("exists"), httpx.Response(200, json=page)
    )
    assert len(api.requests) == 1
    assert_error(observation, "unreadable response", False, None)


def test_it_gives_up_on_endless_pages():
    page = recorded("launchdarkly", "environments_page1")
    observation, api = observe(
        ADAPTER, ALL_ENVIRONMENTS, spec("exists"), httpx.Response(200, json=page)
    )
    assert len(api.requests) == 10
    assert_error(observation, "unreadable response", False, None)


def test_off_before_the_deploy_fails_while_production_serves_the_feature():
    observation, _ = observe(ADAPTER, CONN, spec("off"), ok("launchdarkly", "flag_rollout"))
    assert observation.status == "failing"
    assert observation.value == "on for 25 %"
    assert observation.detail == (
        "Flag new-checkout in production is on for 25 %; it must be off before the deploy."
    )


def test_off_before_the_deploy_passes_when_production_is_off():
    observation, _ = observe(ADAPTER, CONN, spec("off"), ok("launchdarkly", "flag_off"))
    assert observation.status == "passing"
    assert observation.value == "off"


@pytest.mark.parametrize(
    ("percent", "environment", "status"),
    [("25", "", "passing"), ("50", "", "failing"), ("", "", "failing"), ("", "test", "passing")],
)
def test_on_after_the_deploy_compares_the_default_rules_share(percent, environment, status):
    params = {k: v for k, v in {"percent": percent, "environment": environment}.items() if v}
    observation, _ = observe(
        ADAPTER, CONN, spec("on", **params), ok("launchdarkly", "flag_rollout")
    )
    assert observation.status == status
    assert observation.numeric == (100.0 if environment == "test" else 25.0)


def test_a_flag_missing_in_the_environment_is_not_on_and_not_off():
    conn = Connection(
        kind="launchdarkly",
        config={"project": "shop", "environments": "staging", "production_environment": "staging"},
        secrets=CONN.secrets,
    )
    for condition in ("off", "on"):
        observation, _ = observe(ADAPTER, conn, spec(condition), ok("launchdarkly", "flag_rollout"))
        assert observation.status == "failing"
        assert observation.value == "not defined"


def test_an_archived_flag_exists_nowhere():
    flag = recorded("launchdarkly", "flag_off")
    flag["archived"] = True
    observation, _ = observe(ADAPTER, CONN, spec("off"), httpx.Response(200, json=flag))
    assert observation.status == "failing"


def test_an_environment_without_its_on_state_is_an_error_not_a_pass():
    flag = recorded("launchdarkly", "flag_off")
    del flag["environments"]["production"]["on"]
    observation, _ = observe(ADAPTER, CONN, spec("off"), httpx.Response(200, json=flag))
    assert_error(observation, "unreadable response", False, None)


def test_an_unknown_condition_is_a_misconfigured_check():
    observation, _ = observe(ADAPTER, CONN, spec("maybe"), ok("launchdarkly", "flag_off"))
    assert_error(observation, "misconfigured", True, None)


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_fails_closed(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, label, permanent, retry_after)


def test_a_403_is_no_access():
    reply = httpx.Response(403, json=recorded("launchdarkly", "error_403"))
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, "no access", True, None)
    assert "Access to the requested resource was denied" in observation.detail


def test_it_waits_until_launchdarklys_reset_in_milliseconds():
    reply = httpx.Response(
        429,
        json=recorded("launchdarkly", "error_429"),
        headers={"X-Ratelimit-Reset": str(int((NOW + 7) * 1000))},
    )
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, "rate limited", False, 7.0)


# --- the kill switch ----------------------------------------------------------------------------


def turn_off(*replies) -> tuple[str, FakeApi]:
    api = FakeApi(replies)
    with api.client() as client:
        said = ADAPTER.turn_off(
            CONN, "new-checkout", environment="production", comment="error rate", client=client
        )
    return said, api


def test_it_turns_the_flag_off_with_a_semantic_patch():
    said, api = turn_off(ok("launchdarkly", "flag_after_turn_off"))
    request = api.last
    assert request.method == "PATCH"
    assert request.url.path == "/api/v2/flags/shop/new-checkout"
    assert request.headers["Content-Type"] == (
        "application/json; domain-model=launchdarkly.semanticpatch"
    )
    assert json.loads(request.content) == {
        "environmentKey": "production",
        "comment": "error rate",
        "instructions": [{"kind": "turnFlagOff"}],
    }
    assert said == "LaunchDarkly flag new-checkout is off in production (version 8)."


def test_a_patch_that_leaves_the_flag_on_is_not_a_success():
    with pytest.raises(BadResponse):
        turn_off(ok("launchdarkly", "flag_rollout"))


def test_a_refused_patch_raises_with_the_providers_reason():
    with pytest.raises(RateLimited) as caught:
        turn_off(
            httpx.Response(
                429, json=recorded("launchdarkly", "error_429"), headers={"Retry-After": "3"}
            )
        )
    assert caught.value.retry_after == 3.0
