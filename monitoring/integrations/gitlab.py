"""GitLab CI: the latest pipeline run for the release's commit, with its child pipelines.

A parent pipeline whose trigger job does not wait for its child (no ``strategy: depend``)
succeeds while the child still runs, or after it failed. So a successful parent counts only
together with the downstream pipelines its trigger jobs ("bridges") started: any child that
failed fails the check, any still running keeps it pending.
"""

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
from monitoring.integrations.commits import COMPARE_FIELD
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
    config_fields = (
        FieldSpec("project", "Project (numeric id or group/project path)"),
        COMPARE_FIELD,
    )
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
        bridges: list[dict[str, Any]] = []
        if pipeline is not None and STATUSES.get(str(pipeline.get("status"))) == PASSING:
            # Only a passing parent can be overturned by its children; one that is not passing
            # already keeps the check from passing.
            bridges = self._bridges(client, conn, base, project, pipeline)
        return Fetched(
            payload={"pipeline": pipeline, "bridges": bridges} if pipeline is not None else None,
            url=(pipeline or {}).get("web_url") or web,
        )

    def _bridges(
        self, client: HttpClient, conn: Connection, base: str, project: str, pipeline: dict
    ) -> list[dict[str, Any]]:
        what = f"GitLab trigger jobs of pipeline #{pipeline.get('id')} of {project}"
        body = client.get_json(
            f"{base}/api/v4/projects/{quote(project, safe='')}/pipelines/"
            f"{quote(str(pipeline.get('id')), safe='')}/bridges",
            what=what,
            headers={"PRIVATE-TOKEN": conn.secret("token")},
            params={"per_page": 100},
            provider=self.kind,
        )
        if not isinstance(body, list) or not all(isinstance(b, dict) for b in body):
            raise BadResponse(f"The answer for {what} is not a list of trigger jobs.")
        return body

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        if fetched.payload is None:
            return Observation(
                status=PENDING,
                value="no pipeline yet",
                detail=f"No pipeline has run for {spec.sha[:12]} yet.",
                url=fetched.url,
            )
        pipeline = fetched.payload["pipeline"]
        raw = str(pipeline.get("status"))
        status = STATUSES.get(raw, NEEDS_JUDGEMENT)
        label = (pipeline.get("detailed_status") or {}).get("text") or raw
        detail = f"Pipeline #{pipeline.get('id')} on {pipeline.get('ref')} is {label}."
        if raw not in STATUSES:
            detail = f"Pipeline #{pipeline.get('id')} has an unrecognised status {raw!r}."
        children = [
            child for bridge in fetched.payload["bridges"] if (child := _child(bridge)) is not None
        ]
        if status == PASSING and children:
            worst = min(children, key=lambda child: SEVERITY[child[0]])
            if worst[0] != PASSING:
                return Observation(
                    status=worst[0],
                    value=f"child pipeline {worst[1]}",
                    detail=f"{detail[:-1]}, but {worst[2]}.",
                    url=fetched.url,
                )
            detail = f"{detail[:-1]}, and its {len(children)} child pipeline(s) too."
        return Observation(status=status, value=f"pipeline {label}", detail=detail, url=fetched.url)


# Worst first: the child that decides a parent's result.
SEVERITY = {FAILING: 0, NEEDS_JUDGEMENT: 1, PENDING: 2, PASSING: 3}


def _child(bridge: dict[str, Any]) -> tuple[Status, str, str] | None:
    """(status, label, why) of the pipeline a trigger job started; None for a skipped trigger."""
    name = str(bridge.get("name") or "trigger")
    downstream = bridge.get("downstream_pipeline")
    if not isinstance(downstream, dict):
        raw = str(bridge.get("status"))
        if raw == "skipped":
            return None
        if raw in ("failed", "canceled"):
            return FAILING, raw, f"trigger job “{name}” is {raw} without a child pipeline"
        return PENDING, "not started", f"trigger job “{name}” has not started its child pipeline"
    raw = str(downstream.get("status"))
    status = STATUSES.get(raw, NEEDS_JUDGEMENT)
    return status, raw, f"child pipeline #{downstream.get('id')} (from “{name}”) is {raw}"
