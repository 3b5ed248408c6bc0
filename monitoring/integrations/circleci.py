"""CircleCI: the workflows of the newest pipeline built from the release's commit.

Pipelines are listed by branch, which a release cut from a tag never matches: a check that
names a tag (or a release whose ref is ``refs/tags/…``) lists the project's pipelines and takes
the one of that tag and commit; a ref that is neither a known branch nor a tag is looked for as a
branch first, then among all the project's pipelines.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    FAILING,
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
from monitoring.integrations.http import HttpClient

# Pipelines are listed newest first; a release commit older than this many pages is stale.
MAX_PIPELINE_PAGES = 5
MAX_WORKFLOW_PAGES = 5

OUTCOMES: dict[str, RunOutcome] = {
    "success": "ok",
    "failed": "failed",
    "error": "failed",
    "failing": "failed",
    "canceled": "failed",
    "unauthorized": "failed",
    "running": "running",
    # Waiting for an approval job: not finished, not failed.
    "on_hold": "running",
    # not_run and anything new: nothing says it passed, so a person has to look.
}


class CircleCIWorkflows(Adapter):
    kind = "circleci"
    label = "CircleCI"
    default_base_url = "https://circleci.com/api/v2"
    base_url_field = FieldSpec(
        "base_url", "API URL", required=False, help="https://circleci.com/api/v2 when empty."
    )
    config_fields = (FieldSpec("project_slug", "Project slug (gh/org/repo)"),)
    secret_fields = (FieldSpec("token", "Personal API token", secret=True),)
    param_fields = (
        FieldSpec(
            "branch",
            "Branch",
            required=False,
            help="Branch the pipelines ran on; the release's ref when empty.",
        ),
        FieldSpec(
            "tag",
            "Tag",
            required=False,
            help="Tag the pipelines ran for, for releases cut from a tag (instead of a branch).",
        ),
        FieldSpec("workflow", "Workflow name", required=False, help="All workflows when empty."),
    )

    def _where(self, spec: CheckSpec) -> tuple[str | None, str | None, bool]:
        """(branch, tag, whether any pipeline of the commit may do when the branch has none)."""
        if spec.param("branch"):
            return str(spec.param("branch")), None, False
        if spec.param("tag"):
            return None, str(spec.param("tag")).removeprefix("refs/tags/"), False
        ref = spec.ref.strip()
        if ref.startswith("refs/tags/"):
            return None, ref.removeprefix("refs/tags/"), False
        if ref.startswith("refs/heads/"):
            return ref.removeprefix("refs/heads/"), None, False
        # A bare ref ("main", "v2.0.0") may name a branch or a tag.
        return ref or None, None, True

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (
            self.kind,
            conn.url(self.default_base_url),
            conn.setting("project_slug"),
            self._where(spec),
            spec.sha,
        )

    def _pages(
        self,
        client: HttpClient,
        url: str,
        *,
        what: str,
        headers: dict[str, str],
        params: dict[str, Any],
        max_pages: int,
    ) -> Iterator[dict[str, Any]]:
        """The items of each page in turn, following ``next_page_token``."""
        token: str | None = None
        for _ in range(max_pages):
            page_params = {**params, "page-token": token} if token else params
            body = client.get_json(url, what=what, headers=headers, params=page_params)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise BadResponse(f"The answer for {what} has no items list.")
            yield from (item for item in body["items"] if isinstance(item, dict))
            token = body.get("next_page_token")
            if not token:
                return

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        if not spec.sha:
            raise ConfigError("The release has no commit SHA to look up pipelines for.")
        base, slug = conn.url(self.default_base_url), conn.setting("project_slug")
        headers = {"Circle-Token": conn.secret("token")}
        branch, tag, or_any = self._where(spec)

        def find(branch: str | None) -> dict[str, Any] | None:
            pipelines = self._pages(
                client,
                f"{base}/project/{quote(slug)}/pipeline",
                what=f"CircleCI pipelines of {slug}",
                headers=headers,
                params={"branch": branch} if branch else {},
                max_pages=MAX_PIPELINE_PAGES,
            )
            # Newest first, and the generator stops fetching pages once the commit turns up.
            return next((p for p in pipelines if self._built(p, spec.sha, tag)), None)

        pipeline = find(branch)
        if pipeline is None and branch and or_any:
            pipeline = find(None)
        project_url = f"https://app.circleci.com/pipelines/{slug}"
        if pipeline is None:
            return Fetched(payload=None, url=project_url)
        workflows = list(
            self._pages(
                client,
                f"{base}/pipeline/{quote(str(pipeline.get('id')), safe='')}/workflow",
                what=f"the workflows of CircleCI pipeline {pipeline.get('number')}",
                headers=headers,
                params={},
                max_pages=MAX_WORKFLOW_PAGES,
            )
        )
        url = f"{project_url}/{pipeline.get('number')}"
        return Fetched(payload={"pipeline": pipeline, "workflows": workflows}, url=url)

    @staticmethod
    def _built(pipeline: dict[str, Any], sha: str, tag: str | None) -> bool:
        vcs = pipeline.get("vcs") or {}
        return vcs.get("revision") == sha and (tag is None or vcs.get("tag") == tag)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        name = spec.param("workflow")
        if fetched.payload is None:
            return combine_runs(
                [],
                noun="workflow",
                url=fetched.url,
                none_detail=f"No pipeline has run for {spec.sha[:12]} yet.",
            )
        pipeline = fetched.payload["pipeline"]
        if pipeline.get("state") == "errored":
            errors = "; ".join(str(e.get("message")) for e in pipeline.get("errors") or [])
            return Observation(
                status=FAILING,
                value="pipeline errored",
                detail=f"Pipeline {pipeline.get('number')} errored: {errors or 'no message'}",
                url=fetched.url,
            )
        # A rerun adds a workflow with the same name; only the newest one counts.
        latest: dict[str, dict[str, Any]] = {}
        for workflow in sorted(
            fetched.payload["workflows"], key=lambda w: str(w.get("created_at"))
        ):
            latest[str(workflow.get("name"))] = workflow
        runs = [
            (key, OUTCOMES.get(str(w.get("status")), "unknown"), str(w.get("status")))
            for key, w in latest.items()
            if name is None or key == name
        ]
        return combine_runs(
            runs,
            noun="workflow",
            url=fetched.url,
            none_detail=(
                f"No workflow named {name!r} in pipeline {pipeline.get('number')} yet."
                if name
                else f"Pipeline {pipeline.get('number')} has no workflows yet."
            ),
        )
