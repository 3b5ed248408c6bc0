"""Unleash (the open-source server's Admin API): a feature flag's strategies in every
environment of a project, and switching it off in one.

Reads ``GET /api/admin/projects/{project}/features/{flag}``: ``environments[]`` with ``name``,
``enabled`` and ``strategies[]``. "On for N %" is the widest enabled strategy that says how much
of the traffic it takes: ``default`` (everyone) is 100 %, ``flexibleRollout`` and the older
gradual rollouts their ``rollout`` / ``percentage`` parameter; a strategy with constraints, or
of a kind that names people or hosts, counts as 0 % — its share cannot be known here. Switches
off with ``POST …/environments/{environment}/off`` and reads the flag back to confirm.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    BadResponse,
    CheckSpec,
    Connection,
    Fetched,
    FieldSpec,
    to_number,
)
from monitoring.integrations.flagstate import FlagAdapter, FlagState, configured_environments
from monitoring.integrations.http import HttpClient

ROLLOUT_PARAMETERS = {
    "flexibleRollout": "rollout",
    "gradualRolloutRandom": "percentage",
    "gradualRolloutSessionId": "percentage",
    "gradualRolloutUserId": "percentage",
}


def strategy_share(strategy: Any) -> float:
    if not isinstance(strategy, Mapping) or strategy.get("disabled"):
        return 0.0
    if strategy.get("constraints") or strategy.get("segments"):
        return 0.0
    name = strategy.get("name")
    if name == "default":
        return 100.0
    parameter = ROLLOUT_PARAMETERS.get(str(name))
    if parameter is None:
        return 0.0
    share = to_number((strategy.get("parameters") or {}).get(parameter))
    return max(0.0, min(100.0, share or 0.0))


def state_of(environment: Any) -> FlagState:
    if not isinstance(environment, Mapping) or not isinstance(environment.get("enabled"), bool):
        raise BadResponse("Unleash answered with an environment without its enabled state.")
    if not environment["enabled"]:
        return FlagState(exists=True, on=False)
    strategies = environment.get("strategies") or []
    percent = max((strategy_share(s) for s in strategies), default=0.0)
    detail = "" if strategies else "enabled without a strategy"
    return FlagState(exists=True, on=True, percent=percent, detail=detail)


class UnleashFlag(FlagAdapter):
    kind = "unleash"
    label = "Unleash"
    base_url_field = FieldSpec("base_url", "Unleash URL", help="https://unleash.example.com")
    config_fields = (
        FieldSpec("project", "Project", required=False, help="default when empty."),
        FieldSpec(
            "environments",
            "Environments",
            required=False,
            help="Comma-separated; every environment of the project when empty.",
        ),
        FieldSpec(
            "production_environment",
            "Production environment",
            required=False,
            help="Where the release runs and a flag is switched off; production when empty.",
        ),
    )
    secret_fields = (FieldSpec("token", "Admin API token", secret=True),)

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(), self._project(conn), spec.required("flag"))

    def _project(self, conn: Connection) -> str:
        return str(conn.config.get("project") or "default").strip()

    def _flag_url(self, conn: Connection, flag: str) -> str:
        project = quote(self._project(conn), safe="")
        return f"{conn.url()}/api/admin/projects/{project}/features/{quote(flag, safe='')}"

    def _feature(self, conn: Connection, flag: str, client: HttpClient) -> Mapping[str, Any]:
        what = f"Unleash flag {flag}"
        body = client.get_json(
            self._flag_url(conn, flag),
            what=what,
            headers={"Authorization": conn.secret("token"), "Accept": "application/json"},
            provider=self.kind,
        )
        if not isinstance(body, Mapping) or not isinstance(body.get("environments"), list):
            raise BadResponse(f"The answer for {what} has no environments.")
        return body

    def read(self, conn: Connection, flag: str, client: HttpClient) -> Fetched:
        feature = self._feature(conn, flag, client)
        found = {
            str(env.get("name")): env
            for env in feature["environments"]
            if isinstance(env, Mapping) and env.get("name")
        }
        names = configured_environments(conn, self.production_default) or list(found)
        states = {}
        for name in names:
            if feature.get("archived") or name not in found:
                states[name] = FlagState(exists=False)
            else:
                states[name] = state_of(found[name])
        project = quote(self._project(conn))
        url = f"{conn.url()}/projects/{project}/features/{quote(flag)}"
        return self.fetched(states, conn, url)

    def turn_off(
        self, conn: Connection, flag: str, *, environment: str, comment: str, client: HttpClient
    ) -> str:
        what = f"switching Unleash flag {flag} off in {environment}"
        client.request(
            "POST",
            f"{self._flag_url(conn, flag)}/environments/{quote(environment, safe='')}/off",
            what=what,
            headers={"Authorization": conn.secret("token")},
            provider=self.kind,
        )
        # The switch answers with no body: the flag read back says whether it took effect.
        environments = self._feature(conn, flag, client)["environments"]
        now = next(
            (e for e in environments if isinstance(e, Mapping) and e.get("name") == environment),
            None,
        )
        if now is None or now.get("enabled") is not False:
            raise BadResponse(f"Unleash did not confirm flag {flag} is off in {environment}.")
        return f"Unleash flag {flag} is off in {environment}."
