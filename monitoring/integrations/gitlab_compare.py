"""GitLab: the commits between two releases (``GET /projects/:id/repository/compare``), with the
merge requests their merge commits name."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import BadResponse, Connection
from monitoring.integrations.commits import (
    GITLAB_MERGE,
    GITLAB_REQUEST,
    MAX_COMMITS,
    Commit,
    Compared,
    GitHost,
    Merge,
    title_of,
)
from monitoring.integrations.http import HttpClient


class GitLabCompare(GitHost):
    kind = "gitlab"
    label = "GitLab"
    default_base_url = "https://gitlab.com"

    def compare(self, conn: Connection, base: str, head: str, client: HttpClient) -> Compared:
        project = conn.setting("project")
        api = conn.url(self.default_base_url)
        what = f"the GitLab comparison {base[:10]}...{head[:10]} of {project}"
        body = client.get_json(
            f"{api}/api/v4/projects/{quote(project, safe='')}/repository/compare",
            what=what,
            headers={"PRIVATE-TOKEN": conn.secret("token")},
            params={"from": base, "to": head},
            provider="gitlab",
        )
        if not isinstance(body, dict) or not isinstance(body.get("commits"), list):
            raise BadResponse(f"The answer for {what} has no commits list.")
        if body.get("compare_timeout") is True:
            # GitLab gave up part way: what it listed may not be every commit.
            raise BadResponse(f"GitLab timed out while comparing for {what}.")
        if len(body["commits"]) > MAX_COMMITS:
            raise BadResponse(f"More than {MAX_COMMITS} commits in {what}.")
        commits = [_commit(item) for item in body["commits"] if isinstance(item, dict)]
        web = str(body.get("web_url") or "")
        if not web and not project.isdigit():
            web = f"{api}/{project}/-/compare/{base}...{head}"
        return Compared(commits=commits, url=web)

    def merge_of(self, commit: Commit) -> Merge | None:
        found = GITLAB_MERGE.match(commit.title)
        request = GITLAB_REQUEST.search(commit.message)
        if found is None or request is None:
            return None
        return Merge(number=request["number"], branch=found["branch"])

    def pull_request_url(self, conn: Connection, number: str) -> str:
        project = str(conn.config.get("project") or "")
        if not project or project.isdigit():
            return ""
        return f"{conn.url(self.default_base_url)}/{project}/-/merge_requests/{number}"


def _commit(item: dict[str, Any]) -> Commit:
    sha = item.get("id")
    if not isinstance(sha, str) or not sha:
        raise BadResponse("A commit of the GitLab comparison has no id.")
    message = str(item.get("message") or item.get("title") or "")
    return Commit(
        sha=sha,
        title=str(item.get("title") or title_of(message))[:300],
        message=message,
        author=str(item.get("author_name") or ""),
        url=str(item.get("web_url") or ""),
        parents=tuple(str(p) for p in item.get("parent_ids") or [] if isinstance(p, str)),
    )
