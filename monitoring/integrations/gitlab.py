"""GitLab CI: the latest pipeline run for the release's commit."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    FAILING,
    NEEDS_JUDGEMENT,
    PASSING,
    PENDING,
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    Status,
)
from monitoring.integrations.http import HttpClient

STATUSES: dict[str, Status] = {
    "success": PASSING,
    "failed": FAILING,
    "canceled": FAILING,
    "created": PENDING,
    "waiting_for_resource": PENDING,
    "preparing": PENDING,
    "pending": PENDING,
    "running": PENDING,
    "scheduled": PENDING,
    # Waiting for a person to start a manual job: not finished, and nothing failed.
    "manual": PENDING,
    # Every job was skipped: nothing was tested, so nothing passed.
    "skipped": NEEDS_JUDGEMENT,
}


class GitLabPipelines(Adapter):
    kind = "gitlab"
    label = "GitLab CI"
    default_base_url = "https://gitlab.com"
    base_url_field = FieldSpec(
        "base_url", "GitLab URL", required=False, help="https://gitlab.com when empty."
    )
    config_fields = (FieldSpec("project", "Project (numeric id or group/project path)"),)
    secret_fields = (FieldSpec("token", "Access token", secret=True),)
    param_fields = (
        FieldSpec(
            "ref",
            "Branch or tag",
            required=False,
            help="Only pipelines on this ref; any ref of the commit when empty.",
        ),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (
            self.kind,
            conn.url(self.default_base_url),
            conn.setting("project"),
            spec.sha,
            spec.param("ref"),
        )

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        if not spec.sha:
            raise ConfigError("The release has no commit SHA to look up pipelines for.")
        project = conn.setting("project")
        base = conn.url(self.default_base_url)
        params: dict[str, Any] = {"sha": spec.sha, "order_by": "id", "sort": "desc", "per_page": 1}
        if spec.param("ref"):
            params["ref"] = spec.param("ref")
        what = f"GitLab pipelines of {project} for {spec.sha[:12]}"
        body = client.get_json(
            f"{base}/api/v4/projects/{quote(project, safe='')}/pipelines",
            what=what,
            headers={"PRIVATE-TOKEN": conn.secret("token")},
            params=params,
            provider=self.kind,
        )
        if not isinstance(body, list):
            raise BadResponse(f"The answer for {what} is not a list of pipelines.")
        pipeline = body[0] if body else None
        if pipeline is not None and not isinstance(pipeline, dict):
            raise BadResponse(f"The answer for {what} is not a list of pipelines.")
        web = f"{base}/{project}/-/pipelines?sha={spec.sha}" if not project.isdigit() else ""
        return Fetched(payload=pipeline, url=(pipeline or {}).get("web_url") or web)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        pipeline = fetched.payload
        if pipeline is None:
            return Observation(
                status=PENDING,
                value="no pipeline yet",
                detail=f"No pipeline has run for {spec.sha[:12]} yet.",
                url=fetched.url,
            )
        raw = str(pipeline.get("status"))
        status = STATUSES.get(raw, NEEDS_JUDGEMENT)
        label = (pipeline.get("detailed_status") or {}).get("text") or raw
        detail = f"Pipeline #{pipeline.get('id')} on {pipeline.get('ref')} is {label}."
        if raw not in STATUSES:
            detail = f"Pipeline #{pipeline.get('id')} has an unrecognised status {raw!r}."
        return Observation(status=status, value=f"pipeline {label}", detail=detail, url=fetched.url)
