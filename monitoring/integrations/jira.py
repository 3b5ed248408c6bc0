"""Jira Cloud: how many issues matching a JQL search are not done (by default: none may be);
the issues of a fixVersion or a JQL search imported as scope; the fixVersion released after the
release (opt-in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from typing import Any
from urllib.parse import quote, urlencode

from monitoring.integrations.base import (
    BadResponse,
    CheckSpec,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    judge_number,
)
from monitoring.integrations.http import HttpClient, json_of
from monitoring.integrations.trackers import KIND_MAP_FIELD, TrackerAdapter, TrackerItem

PAGE_SIZE = 100
# Counting more than this many open issues one page at a time is pointless: the answer is "too
# many" whatever the threshold, and it would eat the rate limit.
MAX_PAGES = 10


def expand(jql: str, spec: CheckSpec) -> str:
    """``{version}`` in the JQL stands for the release's version."""
    return jql.replace("{version}", spec.version)


def is_open(issue: dict[str, Any]) -> bool:
    # An issue whose status we cannot read counts as open.
    category = (((issue.get("fields") or {}).get("status") or {}).get("statusCategory")) or {}
    return category.get("key") != "done"


# What the scope import reads of an issue.
IMPORT_FIELDS = "summary,status,issuetype,labels,assignee,fixVersions"


def jql_string(text: str) -> str:
    """A JQL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraIssues(TrackerAdapter):
    kind = "jira"
    label = "Jira"
    noun = "issue"
    sources = (("fix_version", "Jira fixVersion"), ("jql", "Jira JQL search"))
    base_url_field = FieldSpec(
        "base_url", "Jira site URL", help="https://your-domain.atlassian.net"
    )
    config_fields = (
        FieldSpec(
            "project_key",
            "Project key",
            required=False,
            help="Limits fixVersion imports to this Jira project, e.g. PAY.",
        ),
        KIND_MAP_FIELD,
    )
    secret_fields = (
        FieldSpec("email", "Account email"),
        FieldSpec("token", "API token", secret=True),
    )
    param_fields = (
        FieldSpec(
            "jql",
            "JQL",
            help='{version} stands for the release version, e.g. fixVersion = "{version}".',
        ),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(), expand(spec.required("jql"), spec))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        base, jql = conn.url(), expand(spec.required("jql"), spec)
        issues = self._search(conn, jql, "summary,status", client)
        url = f"{base}/issues/?" + urlencode({"jql": jql})
        return Fetched(payload=issues, url=url)

    def _search(
        self, conn: Connection, jql: str, fields: str, client: HttpClient
    ) -> list[dict[str, Any]]:
        """Every issue the JQL finds, page by page (``nextPageToken``)."""
        base = conn.url()
        issues: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": PAGE_SIZE}
            if token:
                params["nextPageToken"] = token
            body = client.get_json(
                f"{base}/rest/api/3/search/jql",
                what="the Jira search",
                params=params,
                auth=(conn.secret("email"), conn.secret("token")),
                provider=self.kind,
            )
            if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
                raise BadResponse("The Jira search answer has no issues list.")
            issues.extend(issue for issue in body["issues"] if isinstance(issue, dict))
            token = body.get("nextPageToken")
            if not token or body.get("isLast") is True:
                return issues
        raise BadResponse(
            f"More than {MAX_PAGES * PAGE_SIZE} issues match the JQL; narrow it down."
        )

    def import_jql(self, conn: Connection, source: str, query: str) -> str:
        query = query.strip()
        if source == "jql":
            return query
        jql = f"fixVersion = {jql_string(query)}"
        project = str(conn.config.get("project_key") or "").strip()
        return f"project = {jql_string(project)} AND {jql}" if project else jql

    def items(
        self, conn: Connection, source: str, query: str, client: HttpClient
    ) -> list[TrackerItem]:
        base = conn.url()
        issues = self._search(conn, self.import_jql(conn, source, query), IMPORT_FIELDS, client)
        return [issue_item(base, issue) for issue in issues if issue.get("key")]

    def release_version(
        self, conn: Connection, version_id: str, on: dt.date, client: HttpClient
    ) -> dict[str, Any]:
        """Mark the fixVersion released (Jira ignores a second release of a released one)."""
        what = f"Jira version {version_id}"
        response = client.request(
            "PUT",
            f"{conn.url()}/rest/api/3/version/{quote(version_id, safe='')}",
            what=what,
            json={"released": True, "releaseDate": on.isoformat()},
            auth=(conn.secret("email"), conn.secret("token")),
            provider=self.kind,
        )
        body = json_of(response, what=what)
        if not isinstance(body, dict) or body.get("released") is not True:
            raise BadResponse(f"The answer for {what} does not say it is released.")
        return body

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        open_issues = [issue for issue in fetched.payload if is_open(issue)]
        listed = ", ".join(
            f"{issue.get('key')} {((issue.get('fields') or {}).get('summary') or '')}".strip()
            for issue in open_issues[:10]
        )
        count = len(open_issues)
        observation = judge_number(
            float(count),
            spec,
            subject="the number of open issues",
            url=fetched.url,
            comparator="lte",
            threshold=0,
            extra=f"Open: {listed}." if listed else "",
        )
        return Observation(
            status=observation.status,
            value=f"{count} open issue{'s' if count != 1 else ''}",
            numeric=float(count),
            detail=observation.detail,
            url=fetched.url,
        )


def issue_item(base: str, issue: dict[str, Any]) -> TrackerItem:
    fields = issue.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    assignee = fields.get("assignee") or {}
    labels = [str(label) for label in fields.get("labels") or [] if isinstance(label, str)]
    versions = tuple(
        (str(v.get("id")), str(v.get("name")))
        for v in fields.get("fixVersions") or []
        if isinstance(v, dict) and v.get("id")
    )
    key = str(issue["key"])
    return TrackerItem(
        external_id=str(issue.get("id") or key),
        key=key,
        title=str(fields.get("summary") or key)[:200],
        url=f"{base}/browse/{quote(key)}",
        types=(str((fields.get("issuetype") or {}).get("name") or ""), *labels),
        status=str(status.get("name") or ""),
        done=None if category is None else category == "done",
        # Jira leaves the address out for people who hide it: such issues get no owner.
        owner_email=str(assignee.get("emailAddress") or ""),
        versions=versions,
    )
