"""GitHub: the commits between two releases (``GET /repos/{owner}/{repo}/compare/BASE...HEAD``),
page by page, with the pull requests their merge and squash commits name."""

from __future__ import annotations

from typing import Any

from lib import outbound
from monitoring.integrations.base import BadResponse, ConfigError, Connection
from monitoring.integrations.commits import (
    GITHUB_MERGE,
    MAX_COMMITS,
    Commit,
    Compared,
    GitHost,
    Merge,
    title_of,
)
from monitoring.integrations.github import API_VERSION, web_base
from monitoring.integrations.http import HttpClient, json_of

PAGE_SIZE = 100


class GitHubCompare(GitHost):
    kind = "github"
    label = "GitHub"
    default_base_url = "https://api.github.com"

    def compare(self, conn: Connection, base: str, head: str, client: HttpClient) -> Compared:
        repo = conn.setting("repo")
        if repo.count("/") != 1:
            raise ConfigError(f"The repository must be written owner/name, not {repo!r}.")
        api = conn.url(self.default_base_url)
        url: str | None = f"{api}/repos/{repo}/compare/{base}...{head}"
        first = url
        what = f"the GitHub comparison {base[:10]}...{head[:10]} of {repo}"
        headers = {
            "Authorization": f"Bearer {conn.secret('token')}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        commits: list[Commit] = []
        while url:
            response = client.get(url, what=what, headers=headers, params=params, provider="github")
            body = json_of(response, what=what)
            if not isinstance(body, dict) or not isinstance(body.get("commits"), list):
                raise BadResponse(f"The answer for {what} has no commits list.")
            commits.extend(_commit(item) for item in body["commits"] if isinstance(item, dict))
            if len(commits) > MAX_COMMITS:
                raise BadResponse(f"More than {MAX_COMMITS} commits in {what}.")
            url, params = response.links.get("next", {}).get("url"), None
            if url and not outbound.same_origin(url, first):
                raise BadResponse(f"The next page of {what} is on another origin; not read.")
        web = f"{web_base(api)}/{repo}/compare/{base}...{head}"
        return Compared(commits=commits, url=web)

    def merge_of(self, commit: Commit) -> Merge | None:
        found = GITHUB_MERGE.match(commit.title)
        if found is None:
            return None
        # "from owner/branch": the branch is what follows the fork's owner.
        return Merge(number=found["number"], branch=found["branch"].partition("/")[2])

    def pull_request_url(self, conn: Connection, number: str) -> str:
        repo = str(conn.config.get("repo") or "")
        return f"{web_base(conn.url(self.default_base_url))}/{repo}/pull/{number}"


def _commit(item: dict[str, Any]) -> Commit:
    sha = item.get("sha")
    if not isinstance(sha, str) or not sha:
        raise BadResponse("A commit of the GitHub comparison has no SHA.")
    detail = item.get("commit") or {}
    message = str(detail.get("message") or "")
    author = (item.get("author") or {}).get("login") or (detail.get("author") or {}).get("name")
    return Commit(
        sha=sha,
        title=title_of(message),
        message=message,
        author=str(author or ""),
        url=str(item.get("html_url") or ""),
        parents=tuple(str(p.get("sha")) for p in item.get("parents") or [] if isinstance(p, dict)),
    )
