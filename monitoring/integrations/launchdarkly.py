"""LaunchDarkly (REST API v2): a flag's targeting in every environment of a project, and the
kill switch (a semantic patch with ``turnFlagOff``).

Reads ``GET /api/v2/flags/{project}/{flag}`` (``environments.{env}.on``, ``fallthrough``) and,
unless the integration names its environments, the project's environments
(``GET /api/v2/projects/{project}/environments``, paged by ``limit``/``offset`` with
``_links.next``). "On for N %" is the default rule's share (``fallthrough.variation`` or its
``rollout`` weights, in thousandths of a percent) of the flag's on-variation.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import quote, urljoin

from lib import outbound
from monitoring.integrations.base import (
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    to_number,
)
from monitoring.integrations.flagstate import (
    FlagAdapter,
    FlagState,
    configured_environments,
)
from monitoring.integrations.http import HttpClient, json_of

API_VERSION = "20240415"
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"
PAGE_SIZE = 20
MAX_PAGES = 10
# Rollout weights are in thousandths of a percent: 100000 is everyone.
WEIGHT_PER_PERCENT = 1000.0


def _headers(conn: Connection) -> dict[str, str]:
    # An access token goes in as it is: LaunchDarkly takes no "Bearer" prefix.
    return {"Authorization": conn.secret("token"), "LD-API-Version": API_VERSION}


def on_variation(flag: Mapping[str, Any]) -> int:
    """The variation that is the new behaviour: the flag's default on-variation, else the
    first (``true`` for a boolean flag)."""
    defaults = flag.get("defaults")
    index = defaults.get("onVariation") if isinstance(defaults, Mapping) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else 0


def state_of(flag: Mapping[str, Any], env: Any) -> FlagState:
    if not isinstance(env, Mapping) or env.get("archived") or flag.get("archived"):
        return FlagState(exists=False, detail="archived" if isinstance(env, Mapping) else "")
    if not isinstance(env.get("on"), bool):
        raise BadResponse("LaunchDarkly answered with a flag environment without its on state.")
    if not env["on"]:
        return FlagState(exists=True, on=False)
    wanted = on_variation(flag)
    fallthrough = env.get("fallthrough")
    percent = 0.0
    if isinstance(fallthrough, Mapping):
        if fallthrough.get("variation") == wanted:
            percent = 100.0
        rollout = fallthrough.get("rollout")
        if isinstance(rollout, Mapping):
            for share in rollout.get("variations") or []:
                if isinstance(share, Mapping) and share.get("variation") == wanted:
                    percent = (to_number(share.get("weight")) or 0.0) / WEIGHT_PER_PERCENT
    return FlagState(exists=True, on=True, percent=min(percent, 100.0))


class LaunchDarklyFlag(FlagAdapter):
    kind = "launchdarkly"
    label = "LaunchDarkly"
    default_base_url = "https://app.launchdarkly.com"
    base_url_field = FieldSpec(
        "base_url",
        "API URL",
        required=False,
        help="https://app.launchdarkly.com when empty (https://app.launchdarkly.us for federal).",
    )
    config_fields = (
        FieldSpec("project", "Project key"),
        FieldSpec(
            "environments",
            "Environment keys",
            required=False,
            help="Comma-separated; every environment of the project when empty.",
        ),
        FieldSpec(
            "production_environment",
            "Production environment key",
            required=False,
            help="Where the release runs and a flag is switched off; production when empty.",
        ),
    )
    secret_fields = (
        FieldSpec("token", "Access token", secret=True, help="Reader to read; Writer to switch."),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (
            self.kind,
            conn.url(self.default_base_url),
            conn.setting("project"),
            spec.required("flag"),
        )

    def _flag_url(self, conn: Connection, flag: str) -> str:
        base = conn.url(self.default_base_url)
        return (
            f"{base}/api/v2/flags/{quote(conn.setting('project'), safe='')}/{quote(flag, safe='')}"
        )

    def web_url(self, conn: Connection, flag: str) -> str:
        base = conn.url(self.default_base_url)
        project, env = conn.setting("project"), self.production(conn)
        return f"{base}/projects/{quote(project)}/flags/{quote(flag)}/targeting?env={quote(env)}"

    def project_environments(self, conn: Connection, client: HttpClient) -> list[str]:
        base = conn.url(self.default_base_url)
        project = conn.setting("project")
        url: str | None = f"{base}/api/v2/projects/{quote(project, safe='')}/environments"
        params: dict[str, Any] | None = {"limit": PAGE_SIZE, "offset": 0}
        what = f"the environments of LaunchDarkly project {project}"
        keys: list[str] = []
        for _page in range(MAX_PAGES):
            body = client.get_json(
                url, what=what, headers=_headers(conn), params=params, provider=self.kind
            )
            items = body.get("items") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise BadResponse(f"The answer for {what} has no items list.")
            keys += [str(i["key"]) for i in items if isinstance(i, Mapping) and i.get("key")]
            nxt = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not nxt:
                return keys
            # ``next`` is a path with the query (``/api/v2/...?limit=20&offset=20``).
            url, params = urljoin(base + "/", str(nxt)), None
            if not outbound.same_origin(url, base):
                raise BadResponse(f"The next page of {what} is on another origin; not read.")
        raise BadResponse(f"More than {MAX_PAGES} pages of {what}.")

    def read(self, conn: Connection, flag: str, client: HttpClient) -> Fetched:
        names = configured_environments(conn, self.production_default) or self.project_environments(
            conn, client
        )
        if not names:
            raise ConfigError("The LaunchDarkly project has no environments.")
        what = f"LaunchDarkly flag {flag}"
        body = client.get_json(
            self._flag_url(conn, flag),
            what=what,
            headers=_headers(conn),
            params={"env": names},
            provider=self.kind,
        )
        if not isinstance(body, Mapping) or not isinstance(body.get("environments"), Mapping):
            raise BadResponse(f"The answer for {what} has no environments.")
        states = {name: state_of(body, body["environments"].get(name)) for name in names}
        return self.fetched(states, conn, self.web_url(conn, flag))

    def turn_off(
        self, conn: Connection, flag: str, *, environment: str, comment: str, client: HttpClient
    ) -> str:
        what = f"switching LaunchDarkly flag {flag} off in {environment}"
        body = json.dumps(
            {
                "environmentKey": environment,
                "comment": comment[:500],
                "instructions": [{"kind": "turnFlagOff"}],
            }
        ).encode()
        response = client.request(
            "PATCH",
            self._flag_url(conn, flag),
            what=what,
            headers={**_headers(conn), "Content-Type": SEMANTIC_PATCH},
            content=body,
            provider=self.kind,
        )
        answer = json_of(response, what=what)
        envs = answer.get("environments") if isinstance(answer, Mapping) else None
        env = envs.get(environment) if isinstance(envs, Mapping) else None
        if not isinstance(env, Mapping) or env.get("on") is not False:
            # The patch was accepted, but the flag it returned is not off there: not done.
            raise BadResponse(f"LaunchDarkly did not confirm flag {flag} is off in {environment}.")
        version = answer.get("_version", "?")
        return f"LaunchDarkly flag {flag} is off in {environment} (version {version})."
