"""ClickUp (API v2): the tasks of a list, a view, or a tag across the workspace — imported as
scope, or counted as a check (how many are not done; by default none may be).

A task's key is its custom id when the workspace uses them, else ``CU-<task id>`` (how ClickUp's
Git integrations name a task in branches and commits).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import BadResponse, ConfigError, Connection, FieldSpec
from monitoring.integrations.http import HttpClient
from monitoring.integrations.trackers import KIND_MAP_FIELD, TrackerAdapter, TrackerItem

# ClickUp pages hold up to 100 tasks; more than this many pages is not a release's scope.
MAX_PAGES = 10
# Status types of a finished task. "open" and "custom" are not done; anything else is unknown.
DONE_TYPES = {"done", "closed"}
OPEN_TYPES = {"open", "custom"}


class ClickUpTasks(TrackerAdapter):
    kind = "clickup"
    label = "ClickUp"
    noun = "task"
    default_base_url = "https://api.clickup.com/api/v2"
    sources = (("list", "ClickUp list"), ("tag", "ClickUp tag"), ("view", "ClickUp view"))
    base_url_field = FieldSpec(
        "base_url", "API URL", required=False, help="https://api.clickup.com/api/v2 when empty."
    )
    config_fields = (
        FieldSpec(
            "workspace_id",
            "Workspace id",
            required=False,
            help="Needed to import by tag: the number in app.clickup.com/<id>/….",
        ),
        KIND_MAP_FIELD,
    )
    secret_fields = (FieldSpec("token", "API token", secret=True, help="A pk_… personal token."),)
    param_fields = (
        FieldSpec("source", "Source", help="list, tag or view"),
        FieldSpec("query", "List id, tag or view id", help="{version} stands for the version."),
    )

    def _request(self, conn: Connection, source: str, query: str) -> tuple[str, dict[str, Any]]:
        base = conn.url(self.default_base_url)
        if not query.strip():
            raise ConfigError("Name the ClickUp list, tag or view to read.")
        if source == "list":
            path = f"/list/{quote(query.strip(), safe='')}/task"
            return base + path, {"include_closed": "true", "subtasks": "true"}
        if source == "view":
            return f"{base}/view/{quote(query.strip(), safe='')}/task", {}
        workspace = conn.setting("workspace_id")
        return f"{base}/team/{quote(workspace, safe='')}/task", {
            "tags[]": query.strip(),
            "include_closed": "true",
            "subtasks": "true",
        }

    def items(
        self, conn: Connection, source: str, query: str, client: HttpClient
    ) -> list[TrackerItem]:
        url, params = self._request(conn, source, query)
        what = f"the ClickUp tasks of {source} {query.strip()!r}"
        tasks: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            body = client.get_json(
                url,
                what=what,
                headers={"Authorization": conn.secret("token")},
                params={**params, "page": page},
                provider=self.kind,
            )
            if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
                raise BadResponse(f"The answer for {what} has no tasks list.")
            tasks.extend(task for task in body["tasks"] if isinstance(task, dict))
            # An empty page ends the list too: not every endpoint says last_page.
            if body.get("last_page") is not False or not body["tasks"]:
                return [task_item(task) for task in tasks if task.get("id")]
        raise BadResponse(f"More than {MAX_PAGES} pages of {what}; narrow it down.")


def task_item(task: dict[str, Any]) -> TrackerItem:
    status = task.get("status") or {}
    kind = str(status.get("type") or "").lower()
    assignees = [a for a in task.get("assignees") or [] if isinstance(a, dict)]
    tags = [str(t.get("name")) for t in task.get("tags") or [] if isinstance(t, dict)]
    task_id = str(task["id"])
    return TrackerItem(
        external_id=task_id,
        key=str(task.get("custom_id") or f"CU-{task_id}"),
        title=str(task.get("name") or task_id)[:200],
        url=str(task.get("url") or ""),
        types=tuple(tags),
        status=str(status.get("status") or ""),
        done=True if kind in DONE_TYPES else False if kind in OPEN_TYPES else None,
        owner_email=str(assignees[0].get("email") or "") if assignees else "",
    )
