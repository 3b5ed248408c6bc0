"""GitHub: the check runs (Actions and other apps) reported on the release's commit."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from monitoring.integrations.base import (
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    RunOutcome,
    combine_runs,
)
from monitoring.integrations.http import HttpClient, json_of

API_VERSION = "2022-11-28"
# A commit with more check runs than this is unusual; stop rather than page forever.
MAX_PAGES = 10

OK_CONCLUSIONS = {"success", "neutral", "skipped"}
FAILED_CONCLUSIONS = {
    "failure",
    "timed_out",
    "cancelled",
    "action_required",
    "startup_failure",
    "stale",
}
RUNNING_STATUSES = {"queued", "in_progress", "waiting", "requested", "pending"}


def outcome(run: dict[str, Any]) -> RunOutcome:
    status, conclusion = run.get("status"), run.get("conclusion")
    if status in RUNNING_STATUSES:
        return "running"
    if status != "completed":
        return "unknown"
    if conclusion in OK_CONCLUSIONS:
        return "ok"
    if conclusion in FAILED_CONCLUSIONS:
        return "failed"
    return "unknown"


class GitHubChecks(Adapter):
    kind = "github"
    label = "GitHub checks"
    default_base_url = "https://api.github.com"
    base_url_field = FieldSpec(
        "base_url",
        "API URL",
        required=False,
        help="https://api.github.com when empty; https://HOST/api/v3 for GitHub Enterprise Server.",
    )
    config_fields = (FieldSpec("repo", "Repository (owner/name)"),)
    secret_fields = (FieldSpec("token", "Token", secret=True),)
    param_fields = (
        FieldSpec(
            "check_name",
            "Check name",
            required=False,
            help="Only the check runs with this name; all of them when empty.",
        ),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        # The check name is filtered after the fetch so that one request serves every check
        # on the same commit.
        return (self.kind, conn.url(self.default_base_url), conn.setting("repo"), spec.sha)

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        repo = conn.setting("repo")
        if repo.count("/") != 1:
            raise ConfigError(f"The repository must be written owner/name, not {repo!r}.")
        if not spec.sha:
            raise ConfigError("The release has no commit SHA to look up checks for.")
        base = conn.url(self.default_base_url)
        headers = {
            "Authorization": f"Bearer {conn.secret('token')}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        what = f"GitHub check runs for {repo}@{spec.sha[:12]}"
        web_url = f"{web_base(base)}/{repo}/commit/{spec.sha}/checks"

        url: str | None = f"{base}/repos/{repo}/commits/{spec.sha}/check-runs"
        params: dict[str, Any] | None = {"per_page": 100}
        runs: list[dict[str, Any]] = []
        first_etag: str | None = None
        pages = 0
        while url:
            pages += 1
            if pages > MAX_PAGES:
                raise BadResponse(f"More than {MAX_PAGES} pages of {what}.")
            response = client.get(
                url,
                what=what,
                headers=headers,
                params=params,
                provider=self.kind,
                etag=etag if pages == 1 else None,
            )
            if response.status_code == 304:
                new_etag = response.headers.get("etag") or etag
                return Fetched(url=web_url, etag=new_etag, not_modified=True)
            body = json_of(response, what=what)
            if not isinstance(body, dict) or not isinstance(body.get("check_runs"), list):
                raise BadResponse(f"The answer for {what} has no check_runs list.")
            runs.extend(run for run in body["check_runs"] if isinstance(run, dict))
            if pages == 1:
                first_etag = response.headers.get("etag")
            # The next URL already carries every query parameter.
            url, params = response.links.get("next", {}).get("url"), None

        # An ETag covers one page; a change on a later page would hide behind a 304 of the
        # first, so conditional requests are used only while everything fits on one page.
        return Fetched(payload=runs, url=web_url, etag=first_etag if pages == 1 else None)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        name = spec.param("check_name")
        runs = [run for run in fetched.payload if name is None or run.get("name") == name]
        described = [(str(run.get("name", "?")), outcome(run), describe(run)) for run in runs]
        observation = combine_runs(
            described,
            noun="check run",
            url=fetched.url,
            none_detail=(
                f"No check run named {name!r} on this commit yet."
                if name
                else "No check runs reported on this commit yet."
            ),
        )
        if len(runs) == 1 and runs[0].get("html_url"):
            return replace(observation, url=str(runs[0]["html_url"]))
        return observation


def describe(run: dict[str, Any]) -> str:
    if run.get("status") == "completed":
        return str(run.get("conclusion"))
    return str(run.get("status"))


def web_base(api_base: str) -> str:
    if api_base == "https://api.github.com":
        return "https://github.com"
    return api_base.removesuffix("/api/v3")
