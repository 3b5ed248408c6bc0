"""GitHub: the check runs (Actions and other apps) and the commit statuses (the Statuses API,
which Jenkins' GitHub plugin and many apps use) reported on the release's commit.

One naming rule serves polling and webhooks alike: a check's name is a check run's name as
GitHub lists it on the commit (for GitHub Actions, the job's name, not the workflow's) or a
commit status's context.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

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
# Commit status states (the Statuses API and ``status`` webhook events).
STATE_OUTCOMES: dict[str, RunOutcome] = {
    "success": "ok",
    "failure": "failed",
    "error": "failed",
    "pending": "running",
}
NAMING_HELP = (
    "A check run's name as GitHub lists it on the commit (for GitHub Actions, the job's name, "
    "not the workflow's) or a commit status's context. Every check run and status when empty."
)


def outcome(run: dict[str, Any]) -> RunOutcome:
    """A check run's (or check suite's, or workflow run's) outcome."""
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
    config_fields = (FieldSpec("repo", "Repository (owner/name)"), COMPARE_FIELD)
    secret_fields = (FieldSpec("token", "Token", secret=True),)
    param_fields = (
        FieldSpec("check_name", "Check run or status", required=False, help=NAMING_HELP),
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
        web_url = f"{web_base(base)}/{repo}/commit/{spec.sha}/checks"
        commit = f"{base}/repos/{repo}/commits/{spec.sha}"
        runs_etag, status_etag = split_etag(etag)
        lists = {
            "check_runs": (f"{commit}/check-runs", f"GitHub check runs for {repo}@{spec.sha[:12]}"),
            "statuses": (f"{commit}/status", f"GitHub commit statuses for {repo}@{spec.sha[:12]}"),
        }
        sent = {"check_runs": runs_etag, "statuses": status_etag}
        if not (runs_etag and status_etag):
            sent = {"check_runs": None, "statuses": None}
        read = {key: self._read(client, *lists[key], key, headers, sent[key]) for key in lists}
        if all(items is None for items, _etag in read.values()):
            # Both lists are as they were: the previous result still holds.
            return Fetched(url=web_url, etag=etag, not_modified=True)
        for key, (items, _etag) in list(read.items()):
            if items is None:
                # One list changed and the other did not: read the other one whole.
                read[key] = self._read(client, *lists[key], key, headers, None)
        payload = {key: items for key, (items, _etag) in read.items()}
        return Fetched(
            payload=payload,
            url=web_url,
            etag=join_etag(read["check_runs"][1], read["statuses"][1]),
        )

    def _read(
        self,
        client: HttpClient,
        url: str,
        what: str,
        key: str,
        headers: dict[str, str],
        etag: str | None,
    ) -> tuple[list[dict[str, Any]] | None, str | None]:
        """Every item of one paged list and the ETag to send next time; ``None`` items for 304."""
        next_url: str | None = url
        params: dict[str, Any] | None = {"per_page": 100}
        items: list[dict[str, Any]] = []
        first_etag: str | None = None
        pages = 0
        while next_url:
            pages += 1
            if pages > MAX_PAGES:
                raise BadResponse(f"More than {MAX_PAGES} pages of {what}.")
            response = client.get(
                next_url,
                what=what,
                headers=headers,
                params=params,
                provider=self.kind,
                etag=etag if pages == 1 else None,
            )
            if response.status_code == 304 and pages == 1 and etag:
                return None, response.headers.get("etag") or etag
            body = json_of(response, what=what)
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise BadResponse(f"The answer for {what} has no {key} list.")
            items.extend(item for item in body[key] if isinstance(item, dict))
            if pages == 1:
                first_etag = response.headers.get("etag")
            # The next URL already carries every query parameter.
            next_url, params = response.links.get("next", {}).get("url"), None
            if next_url and not outbound.same_origin(next_url, url):
                # The token is the API's: a page the answer says is elsewhere is not fetched.
                raise BadResponse(f"The next page of {what} is on another origin; not read.")
        # An ETag covers one page; a change on a later page would hide behind a 304 of the
        # first, so conditional requests are used only while everything fits on one page.
        return items, first_etag if pages == 1 else None

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        name = spec.param("check_name")
        runs = [
            run for run in fetched.payload["check_runs"] if name is None or run.get("name") == name
        ]
        statuses = [
            status
            for status in fetched.payload["statuses"]
            if name is None or status.get("context") == name
        ]
        described = [(str(run.get("name", "?")), outcome(run), describe(run)) for run in runs]
        described += [
            (str(s.get("context", "?")), status_outcome(s), str(s.get("state"))) for s in statuses
        ]
        observation = combine_runs(
            described,
            noun="check run" if not statuses else "status" if not runs else "check",
            url=fetched.url,
            none_detail=(
                f"No check run or status named {name!r} on this commit yet."
                if name
                else "No check runs or statuses reported on this commit yet."
            ),
        )
        facts = [run_evidence(run) for run in runs] + [status_evidence(s) for s in statuses]
        observation = replace(observation, evidence=newest(facts))
        links = [str(r.get("html_url") or "") for r in runs]
        links += [str(s.get("target_url") or "") for s in statuses]
        if len(links) == 1 and links[0]:
            return replace(observation, url=links[0])
        return observation


def status_outcome(status: dict[str, Any]) -> RunOutcome:
    return STATE_OUTCOMES.get(str(status.get("state")), "unknown")


def run_evidence(run: dict[str, Any], kind: str = "check_run") -> Evidence:
    """The facts of a check run, check suite or workflow run, as GitHub states them."""
    done = run.get("status") == "completed"
    at = provider_time(run.get("completed_at") if done else None) or provider_time(
        run.get("updated_at") or run.get("started_at") or run.get("created_at")
    )
    attempt = run.get("run_attempt")
    return Evidence(
        run=f"{kind}:{run.get('id')}",
        at=at,
        attempt=attempt if isinstance(attempt, int) and attempt > 0 else 1,
        done=done,
    )


def status_evidence(status: dict[str, Any]) -> Evidence:
    # Every new state of a context is a new status with its own id.
    return Evidence(
        run=f"status:{status.get('id')}",
        at=provider_time(status.get("updated_at") or status.get("created_at")),
        done=status.get("state") != "pending",
    )


def newest(facts: list[Evidence]) -> Evidence | None:
    found: Evidence | None = None
    for fact in facts:
        if fact.at is not None and (found is None or fact.is_newer_than(found)):
            found = fact
    return found


def split_etag(etag: str | None) -> tuple[str | None, str | None]:
    """The validators of the two lists, stored together as one JSON pair."""
    try:
        pair = json.loads(etag) if etag else None
    except ValueError:
        return None, None
    if isinstance(pair, list) and len(pair) == 2 and all(isinstance(e, str) for e in pair):
        return pair[0], pair[1]
    return None, None


def join_etag(runs_etag: str | None, status_etag: str | None) -> str | None:
    if not runs_etag or not status_etag:
        return None
    joined = json.dumps([runs_etag, status_etag])
    # Too long to store whole: better no conditional request than a wrong one.
    return joined if len(joined) <= 200 else None


def describe(run: dict[str, Any]) -> str:
    if run.get("status") == "completed":
        return str(run.get("conclusion"))
    return str(run.get("status"))


def web_base(api_base: str) -> str:
    if api_base == "https://api.github.com":
        return "https://github.com"
    return api_base.removesuffix("/api/v3")
