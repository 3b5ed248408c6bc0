from __future__ import annotations

import json

import httpx
import pytest

from monitoring.integrations.base import AuthError, BadResponse, CheckSpec, Connection
from monitoring.integrations.split import SplitFlag
from tests.monitoring.helpers import HTTP_FAILURES, FakeApi, assert_error, observe, ok, recorded

ADAPTER = SplitFlag()
CONN = Connection(
    kind="split",
    config={"workspace": "ws-1", "environments": "Staging,Production"},
    secrets={"token": "admin-key"},
)
NOT_FOUND = httpx.Response(404, json=recorded("split", "error_404"))


def spec(condition: str, **params: str) -> CheckSpec:
    return CheckSpec(params={"flag": "new_checkout", "condition": condition, **params})


def test_it_reads_the_definition_in_every_environment_with_the_admin_key():
    _, api = observe(ADAPTER, CONN, spec("exists"), ok("split", "definition_rollout"))
    assert [r.url.path for r in api.requests] == [
        "/internal/api/v2/splits/ws/ws-1/new_checkout/environments/Staging",
        "/internal/api/v2/splits/ws/ws-1/new_checkout/environments/Production",
    ]
    assert api.last.headers["Authorization"] == "Bearer admin-key"


def test_it_passes_when_the_flag_is_defined_in_every_environment():
    observation, _ = observe(ADAPTER, CONN, spec("exists"), ok("split", "definition_rollout"))
    assert observation.status == "passing"


def test_a_404_in_one_environment_is_a_flag_missing_there():
    observation, _ = observe(
        ADAPTER, CONN, spec("exists"), NOT_FOUND, ok("split", "definition_rollout")
    )
    assert observation.status == "failing"
    assert observation.detail == "Flag new_checkout is not defined in Staging."


def test_on_is_the_allocation_times_the_on_treatments_share():
    observation, _ = observe(
        ADAPTER, CONN, spec("on", percent="20"), ok("split", "definition_rollout")
    )
    assert observation.status == "passing"
    assert observation.value == "on for 20 %"
    observation, _ = observe(ADAPTER, CONN, spec("on"), ok("split", "definition_rollout"))
    assert observation.status == "failing"
    observation, _ = observe(ADAPTER, CONN, spec("on"), ok("split", "definition_everyone"))
    assert observation.status == "passing"


def test_a_killed_flag_is_off():
    observation, _ = observe(ADAPTER, CONN, spec("off"), ok("split", "definition_killed"))
    assert observation.status == "passing"
    observation, _ = observe(
        ADAPTER, CONN, spec("on", percent="1"), ok("split", "definition_killed")
    )
    assert observation.status == "failing"


def test_a_definition_without_its_killed_state_is_an_error():
    body = recorded("split", "definition_rollout")
    del body["killed"]
    observation, _ = observe(ADAPTER, CONN, spec("off"), httpx.Response(200, json=body))
    assert_error(observation, "unreadable response", False, None)


def test_an_integration_without_environments_is_misconfigured():
    conn = Connection(kind="split", config={"workspace": "ws-1"}, secrets=CONN.secrets)
    # The production environment alone is not "every environment": the setting is required.
    observation, _ = observe(ADAPTER, conn, spec("exists"), ok("split", "definition_rollout"))
    assert_error(observation, "misconfigured", True, None)


FAILURES = [p for p in HTTP_FAILURES if p.id != "404"]


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), FAILURES)
def test_it_fails_closed(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, label, permanent, retry_after)


def test_a_flag_found_nowhere_never_passes():
    for condition in ("exists", "off", "on"):
        observation, _ = observe(ADAPTER, CONN, spec(condition), NOT_FOUND)
        assert observation.status == "failing"


def test_a_403_is_no_access():
    observation, _ = observe(
        ADAPTER, CONN, spec("off"), httpx.Response(403, json={"code": 403, "message": "Forbidden"})
    )
    assert_error(observation, "no access", True, None)


def test_it_waits_for_the_later_of_splits_two_resets():
    reply = httpx.Response(
        429,
        json={"code": 429, "message": "Too Many Requests"},
        headers={"X-RateLimit-Reset-Seconds-Org": "4", "X-RateLimit-Reset-Seconds-IP": "9"},
    )
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, "rate limited", False, 9.0)


def kill(*replies) -> tuple[str, FakeApi]:
    api = FakeApi(replies)
    with api.client() as client:
        said = ADAPTER.turn_off(
            CONN, "new_checkout", environment="Production", comment="error rate", client=client
        )
    return said, api


def test_it_kills_the_flag_and_reads_it_back():
    said, api = kill(httpx.Response(200, json={}), ok("split", "definition_killed"))
    put, get = api.requests
    assert put.method == "PUT"
    assert (
        put.url.path == "/internal/api/v2/splits/ws/ws-1/new_checkout/environments/Production/kill"
    )
    assert json.loads(put.content) == {"comment": "error rate"}
    assert get.method == "GET"
    assert said == "Split flag new_checkout is killed in Production."


def test_a_kill_that_did_not_take_is_not_a_success():
    with pytest.raises(BadResponse):
        kill(httpx.Response(200, json={}), ok("split", "definition_rollout"))


def test_a_refused_kill_raises():
    with pytest.raises(AuthError):
        kill(httpx.Response(401, json=recorded("split", "error_401")))
