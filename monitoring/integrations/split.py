"""Split (Harness FME Admin API v2): a feature flag's definition in each environment of a
workspace, and the kill switch.

Reads ``GET /splits/ws/{workspace}/{flag}/environments/{environment}`` for every environment
the integration names (a 404 there: the flag is not defined in that environment). "On for N %"
is the traffic allocation times the on-treatment's share of the default rule; a killed flag
serves its default treatment to everyone, so it counts as off. Kills with
``PUT …/environments/{environment}/kill`` and reads the definition back to confirm.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    NotFound,
    to_number,
)
from monitoring.integrations.flagstate import FlagAdapter, FlagState, configured_environments
from monitoring.integrations.http import HttpClient


def _headers(conn: Connection) -> dict[str, str]:
    return {"Authorization": f"Bearer {conn.secret('token')}"}


def on_treatment(conn: Connection) -> str:
    return str(conn.config.get("on_treatment") or "on").strip()


def state_of(definition: Any, treatment: str) -> FlagState:
    if not isinstance(definition, Mapping) or not isinstance(definition.get("killed"), bool):
        raise BadResponse("Split answered with a flag definition without its killed state.")
    if definition["killed"]:
        return FlagState(exists=True, on=False, detail="killed")
    allocation = to_number(definition.get("trafficAllocation"))
    allocation = 100.0 if allocation is None else allocation
    share = 0.0
    for rule in definition.get("defaultRule") or []:
        if isinstance(rule, Mapping) and rule.get("treatment") == treatment:
            share += to_number(rule.get("size")) or 0.0
    percent = max(0.0, min(100.0, allocation * share / 100.0))
    return FlagState(exists=True, on=percent > 0, percent=percent)


class SplitFlag(FlagAdapter):
    kind = "split"
    label = "Split"
    default_base_url = "https://api.split.io/internal/api/v2"
    base_url_field = FieldSpec(
        "base_url",
        "API URL",
        required=False,
        help="https://api.split.io/internal/api/v2 when empty.",
    )
    config_fields = (
        FieldSpec("workspace", "Workspace (project) id"),
        FieldSpec("environments", "Environments", help="Comma-separated names or ids."),
        FieldSpec(
            "production_environment",
            "Production environment",
            required=False,
            help="Where the release runs and a flag is killed; Production when empty.",
        ),
        FieldSpec(
            "on_treatment",
            "Treatment of the new behaviour",
            required=False,
            help="on when empty.",
        ),
    )
    secret_fields = (FieldSpec("token", "Admin API key", secret=True),)
    production_default = "Production"

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (
            self.kind,
            conn.url(self.default_base_url),
            conn.setting("workspace"),
            spec.required("flag"),
        )

    def _env_url(self, conn: Connection, flag: str, environment: str) -> str:
        base = conn.url(self.default_base_url)
        workspace = quote(conn.setting("workspace"), safe="")
        return (
            f"{base}/splits/ws/{workspace}/{quote(flag, safe='')}"
            f"/environments/{quote(environment, safe='')}"
        )

    def _definition(self, conn: Connection, flag: str, env: str, client: HttpClient) -> Any:
        return client.get_json(
            self._env_url(conn, flag, env),
            what=f"Split flag {flag} in {env}",
            headers=_headers(conn),
            provider=self.kind,
        )

    def read(self, conn: Connection, flag: str, client: HttpClient) -> Fetched:
        names = configured_environments(conn, self.production_default)
        if not names:
            raise ConfigError("The integration has no 'environments' setting.")
        states: dict[str, FlagState] = {}
        for env in names:
            try:
                definition = self._definition(conn, flag, env, client)
            except NotFound:
                states[env] = FlagState(exists=False)
                continue
            states[env] = state_of(definition, on_treatment(conn))
        url = (
            f"https://app.split.io/org/-/ws/{quote(conn.setting('workspace'))}/splits/{quote(flag)}"
        )
        return self.fetched(states, conn, url)

    def turn_off(
        self, conn: Connection, flag: str, *, environment: str, comment: str, client: HttpClient
    ) -> str:
        what = f"killing Split flag {flag} in {environment}"
        client.request(
            "PUT",
            self._env_url(conn, flag, environment) + "/kill",
            what=what,
            headers=_headers(conn),
            json={"comment": comment[:500]},
            provider=self.kind,
        )
        # What the kill answers is not documented: the definition read back says whether it
        # took effect.
        state = state_of(self._definition(conn, flag, environment, client), on_treatment(conn))
        if state.on or state.detail != "killed":
            raise BadResponse(f"Split did not confirm flag {flag} is killed in {environment}.")
        return f"Split flag {flag} is killed in {environment}."
