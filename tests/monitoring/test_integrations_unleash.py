"""Unleash: recorded answers of the real server for every failure mode, and the real server
itself (unleash-server from npm on Node.js, started by the tests) for reading and switching."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings

from monitoring.integrations.base import (
    BadResponse,
    CheckSpec,
    Connection,
    NotFound,
    Observation,
    observe_group,
)
from monitoring.integrations.http import HttpClient
from monitoring.integrations.unleash import UnleashFlag
from tests.monitoring.helpers import HTTP_FAILURES, FakeApi, assert_error, observe, ok, recorded
from tests.monitoring.unleash_process import ADMIN_TOKEN, unleash

ADAPTER = UnleashFlag()
CONN = Connection(
    kind="unleash", base_url="https://unleash.example", secrets={"token": "*:*.admin-token"}
)


def spec(condition: str, **params: str) -> CheckSpec:
    return CheckSpec(params={"flag": "new-checkout", "condition": condition, **params})


# --- recorded answers ---------------------------------------------------------------------------


def test_it_reads_the_feature_with_the_admin_token():
    _, api = observe(ADAPTER, CONN, spec("exists"), ok("unleash", "feature_rollout"))
    assert api.last.url.path == "/api/admin/projects/default/features/new-checkout"
    assert api.last.headers["Authorization"] == "*:*.admin-token"


def test_every_environment_of_the_project_counts_when_none_are_named():
    observation, _ = observe(ADAPTER, CONN, spec("exists"), ok("unleash", "feature_rollout"))
    assert observation.status == "passing"
    assert observation.detail == "Flag new-checkout is defined in development, production."


def test_a_named_environment_the_project_lacks_is_missing():
    conn = Connection(
        kind="unleash",
        base_url=CONN.base_url,
        config={"environments": "development,staging,production"},
        secrets=CONN.secrets,
    )
    observation, _ = observe(ADAPTER, conn, spec("exists"), ok("unleash", "feature_rollout"))
    assert observation.status == "failing"
    assert observation.detail == "Flag new-checkout is not defined in staging."


def test_the_rollout_share_is_the_flexible_rollouts_percentage():
    observation, _ = observe(
        ADAPTER, CONN, spec("on", percent="25"), ok("unleash", "feature_rollout")
    )
    assert observation.status == "passing"
    assert observation.value == "on for 25 %"
    observation, _ = observe(ADAPTER, CONN, spec("on"), ok("unleash", "feature_rollout"))
    assert observation.status == "failing"
    observation, _ = observe(
        ADAPTER, CONN, spec("on", environment="development"), ok("unleash", "feature_rollout")
    )
    assert observation.status == "passing"


def test_off_in_production_reads_the_environments_enabled_state():
    observation, _ = observe(ADAPTER, CONN, spec("off"), ok("unleash", "feature_rollout"))
    assert observation.status == "failing"
    observation, _ = observe(ADAPTER, CONN, spec("off"), ok("unleash", "feature_off_in_production"))
    assert observation.status == "passing"


def test_a_constrained_strategy_counts_as_none_of_the_traffic():
    body = recorded("unleash", "feature_rollout")
    production = next(e for e in body["environments"] if e["name"] == "production")
    production["strategies"][0]["constraints"] = [
        {"contextName": "userId", "operator": "IN", "values": ["42"]}
    ]
    observation, _ = observe(ADAPTER, CONN, spec("on", percent="1"), httpx.Response(200, json=body))
    assert observation.status == "failing"
    assert observation.value == "on for 0 %"


def test_an_environment_without_its_enabled_state_is_an_error():
    body = recorded("unleash", "feature_rollout")
    del body["environments"][1]["enabled"]
    observation, _ = observe(ADAPTER, CONN, spec("off"), httpx.Response(200, json=body))
    assert_error(observation, "unreadable response", False, None)


def test_an_unknown_feature_is_not_found_with_unleashs_reason():
    reply = httpx.Response(404, json=recorded("unleash", "error_404"))
    observation, _ = observe(ADAPTER, CONN, spec("exists"), reply)
    assert_error(observation, "not found", True, None)
    assert "There's no feature named" in observation.detail


@pytest.mark.parametrize(("reply", "label", "permanent", "retry_after"), HTTP_FAILURES)
def test_it_fails_closed(reply, label, permanent, retry_after):
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, label, permanent, retry_after)


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_token_is_no_access(code):
    reply = httpx.Response(code, json=recorded("unleash", "error_401"))
    observation, _ = observe(ADAPTER, CONN, spec("off"), reply)
    assert_error(observation, "no access", True, None)


def test_a_switch_the_flag_read_back_does_not_confirm_is_not_a_success():
    api = FakeApi([httpx.Response(200), ok("unleash", "feature_rollout")])
    with api.client() as client, pytest.raises(BadResponse):
        ADAPTER.turn_off(CONN, "new-checkout", environment="production", comment="", client=client)


# --- the real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("unleash") / "unleash.log"
    with unleash(settings.TEST_DATABASE_URL, log) as url:
        admin = httpx.Client(
            base_url=url + "/api/admin/projects/default/features",
            headers={"Authorization": ADMIN_TOKEN},
            timeout=10,
        )
        admin.post("", json={"name": "new-checkout"}).raise_for_status()
        admin.post(
            "/new-checkout/environments/production/strategies",
            json={
                "name": "flexibleRollout",
                "parameters": {"rollout": "40", "stickiness": "default", "groupId": "new-checkout"},
            },
        ).raise_for_status()
        admin.post("/new-checkout/environments/production/on").raise_for_status()
        yield url


def real(server: str, token: str = ADMIN_TOKEN) -> Connection:
    return Connection(kind="unleash", base_url=server, secrets={"token": token})


@pytest.mark.unleash
@pytest.mark.slow
@pytest.mark.xdist_group("unleash")
def test_the_real_server_reads_and_switches_a_flag_off(server):
    with HttpClient() as client:
        states = ADAPTER.read(real(server), "new-checkout", client).payload["states"]
        assert {env: state.describe() for env, state in states.items()} == {
            "development": "off",
            "production": "on for 40 %",
        }
        said = ADAPTER.turn_off(
            real(server), "new-checkout", environment="production", comment="", client=client
        )
        assert said == "Unleash flag new-checkout is off in production."
        states = ADAPTER.read(real(server), "new-checkout", client).payload["states"]
        assert states["production"].on is False


@pytest.mark.unleash
@pytest.mark.slow
@pytest.mark.xdist_group("unleash")
def test_the_real_server_refuses_a_wrong_token_and_an_unknown_flag(server):
    with HttpClient() as client:
        observation = ADAPTER.evaluate(
            ADAPTER.read(real(server), "new-checkout", client), spec("exists")
        )
        assert observation.status == "passing"
        with pytest.raises(NotFound):
            ADAPTER.read(real(server), "not-a-flag", client)
        observed = observe_real(real(server, token="*:*.wrong"), client)
        assert_error(observed, "no access", True, None)


def observe_real(conn: Connection, client: HttpClient) -> Observation:
    [observation] = observe_group(ADAPTER, conn, [spec("off")], client)
    return observation
