"""Bitbucket Cloud: the build statuses reported on the release's commit
(``GET /2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses``, paged by ``next``).

A check names a status by its ``key`` (unique per commit, e.g. a Pipelines step or a Jenkins
job) or its ``name``; the poll and the webhook use that one rule, and a check that names none
reads every status.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from lib import outbound
from monitoring.integrations.base import (
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Evidence,
    Fetched,
    FieldSpec,
    Observation,
    RunOutcome,
    combine_runs,
    provider_time,
)
from monitoring.integrations.commits import COMPARE_FIELD
from monitoring.integrations.http import HttpClient

MAX_PAGES = 10
STATES: dict[str, RunOutcome] = {
    "SUCCESSFUL": "ok",
    "FAILED": "failed",
    # A stopped build did not pass: it counts as failed.
    "STOPPED": "failed",
    "INPROGRESS": "running",
}
NAMING_HELP = "A build status's key or name on the commit. Every status when empty."


def outcome(status: Mapping[str, Any]) -> RunOutcome:
    return STATES.get(str(status.get("state")), "unknown")


def names(status: Mapping[str, Any]) -> set[str]:
    return {str(status.get(field)) for field in ("key", "name") if status.get(field)}


def status_evidence(status: Mapping[str, Any]) -> Evidence:
    # A key is overwritten in place: its update time orders its states.
    return Evidence(
        run=f"status:{status.get('key') or status.get('uuid')}",
        at=provider_time(status.get("updated_on") or status.get("created_on")),
        done=status.get("state") != "INPROGRESS",
    )


def split_repo(conn: Connection) -> tuple[str, str]:
    repo = conn.setting("repo")
    workspace, _, slug = repo.partition("/")
    if not workspace or not slug or "/" in slug:
        raise ConfigError(f"The repository must be written workspace/repo_slug, not {repo!r}.")
    return workspace, slug


class BitbucketStatuses(Adapter):
    kind = "bitbucket"
    label = "Bitbucket build statuses"
    default_base_url = "https://api.bitbucket.org"
    base_url_field = FieldSpec(
        "base_url", "API URL", required=False, help="https://api.bitbucket.org when empty."
    )
    config_fields = (FieldSpec("repo", "Repository (workspace/repo_slug)"), COMPARE_FIELD)
    secret_fields = (
        FieldSpec(
            "token",
            "Access token",
            secret=True,
            help="A repository or workspace access token with read access to the repository.",
        ),
    )
    param_fields = (FieldSpec("status", "Build status", required=False, help=NAMING_HELP),)

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(self.default_base_url), conn.setting("repo"), spec.sha)

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        workspace, slug = split_repo(conn)
        if not spec.sha:
            raise ConfigError("The release has no commit SHA to look up build statuses for.")
        base = conn.url(self.default_base_url)
        url: str | None = (
            f"{base}/2.0/repositories/{quote(workspace, safe='')}/{quote(slug, safe='')}"
            f"/commit/{quote(spec.sha, safe='')}/statuses"
        )
        params: dict[str, Any] | None = {"pagelen": 100}
        what = f"Bitbucket build statuses for {workspace}/{slug}@{spec.sha[:12]}"
        headers = {"Authorization": f"Bearer {conn.secret('token')}", "Accept": "application/json"}
        statuses: list[dict[str, Any]] = []
        for _page in range(MAX_PAGES):
            body = client.get_json(
                url, what=what, headers=headers, params=params, provider=self.kind
            )
            values = body.get("values") if isinstance(body, Mapping) else None
            if not isinstance(values, list):
                raise BadResponse(f"The answer for {what} has no values list.")
            statuses += [v for v in values if isinstance(v, dict)]
            url, params = body.get("next"), None
            if not url:
                web = f"https://bitbucket.org/{workspace}/{slug}/commits/{spec.sha}"
                return Fetched(payload=statuses, url=web)
            if not outbound.same_origin(str(url), base):
                # The token is the API's: a page the answer says is elsewhere is not fetched.
                raise BadResponse(f"The next page of {what} is on another origin; not read.")
        raise BadResponse(f"More than {MAX_PAGES} pages of {what}.")

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        name = spec.param("status")
        statuses = [s for s in fetched.payload if name is None or name in names(s)]
        observation = combine_runs(
            [
                (str(s.get("name") or s.get("key") or "?"), outcome(s), str(s.get("state")))
                for s in statuses
            ],
            noun="build",
            url=fetched.url,
            none_detail=(
                f"No build status named {name!r} on this commit yet."
                if name
                else "No build statuses reported on this commit yet."
            ),
        )
        facts = [status_evidence(s) for s in statuses]
        newest = max((f for f in facts if f.at), key=lambda f: f.at, default=None)
        observation = replace(observation, evidence=newest)
        if len(statuses) == 1 and statuses[0].get("url"):
            return replace(observation, url=str(statuses[0]["url"]))
        return observation
