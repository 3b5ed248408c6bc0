"""Jira Cloud: how many issues matching a JQL search are not done (by default: none may be)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from urllib.parse import urlencode

from monitoring.integrations.base import (
    Adapter,
    BadResponse,
    CheckSpec,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    judge_number,
)
from monitoring.integrations.http import HttpClient

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


class JiraIssues(Adapter):
    kind = "jira"
    label = "Jira"
    base_url_field = FieldSpec(
        "base_url", "Jira site URL", help="https://your-domain.atlassian.net"
    )
    config_fields = ()
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
        issues: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {
                "jql": jql,
                "fields": "summary,status",
                "maxResults": PAGE_SIZE,
            }
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
                break
        else:
            raise BadResponse(
                f"More than {MAX_PAGES * PAGE_SIZE} issues match the JQL; narrow it down."
            )
        url = f"{base}/issues/?" + urlencode({"jql": jql})
        return Fetched(payload=issues, url=url)

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
