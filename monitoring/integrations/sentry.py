"""Sentry: release health (crash-free sessions or users) of the release's version."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    NEEDS_JUDGEMENT,
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    judge_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

METRICS = {
    "crash_free_sessions": ("crashFreeSessions", "crash-free sessions"),
    "crash_free_users": ("crashFreeUsers", "crash-free users"),
}


def project_health(release: dict[str, Any], project: str) -> dict[str, Any] | None:
    """The health data of the configured project (by id or slug) within the release."""
    for candidate in release.get("projects") or []:
        if not isinstance(candidate, dict):
            continue
        if project in (str(candidate.get("id")), str(candidate.get("slug"))):
            health = candidate.get("healthData")
            return health if isinstance(health, dict) else None
    return None


class SentryReleaseHealth(Adapter):
    kind = "sentry"
    label = "Sentry"
    default_base_url = "https://sentry.io"
    base_url_field = FieldSpec(
        "base_url", "Sentry URL", required=False, help="https://sentry.io when empty."
    )
    config_fields = (
        FieldSpec("org", "Organization slug"),
        FieldSpec("project", "Project id (numeric)"),
    )
    secret_fields = (FieldSpec("token", "Auth token", secret=True),)
    param_fields = (
        FieldSpec(
            "metric",
            "Metric",
            required=False,
            help="crash_free_sessions (default) or crash_free_users, in percent.",
        ),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (
            self.kind,
            conn.url(self.default_base_url),
            conn.setting("org"),
            conn.setting("project"),
            spec.version,
        )

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        if not spec.version:
            raise ConfigError("The release has no version to look up in Sentry.")
        base = conn.url(self.default_base_url)
        org, project = conn.setting("org"), conn.setting("project")
        version = quote(spec.version, safe="")
        what = f"Sentry release {spec.version}"
        body = client.get_json(
            f"{base}/api/0/organizations/{quote(org, safe='')}/releases/{version}/",
            what=what,
            headers={"Authorization": f"Bearer {conn.secret('token')}"},
            params={"health": 1, "project": project},
            provider=self.kind,
        )
        if not isinstance(body, dict) or not isinstance(body.get("projects", []), list):
            raise BadResponse(f"The answer for {what} is not a release.")
        url = f"{base}/organizations/{org}/releases/{version}/?project={quote(project)}"
        return Fetched(payload={"release": body, "project": project}, url=url)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        metric = spec.param("metric", "crash_free_sessions")
        if metric not in METRICS:
            raise ConfigError(f"Unknown metric {metric!r}; use one of {', '.join(METRICS)}.")
        field, subject = METRICS[metric]
        health = project_health(fetched.payload["release"], fetched.payload["project"])
        if not health or not health.get("hasHealthData") or health.get(field) is None:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no data",
                detail=f"Sentry has no {subject} for {spec.version} yet.",
                url=fetched.url,
            )
        sessions = health.get("totalSessions")
        extra = f"({sessions} sessions)" if sessions is not None else ""
        return judge_number(
            to_number(health[field]),
            spec,
            subject=subject,
            url=fetched.url,
            unit="%",
            extra=extra,
        )
