"""Bitbucket Cloud: the commits between two releases
(``GET /2.0/repositories/{workspace}/{repo}/commits?include=HEAD&exclude=BASE``, like
``git log HEAD ^BASE``), following ``next`` page by page, with the pull requests their merge
commits name."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lib import outbound
from monitoring.integrations.base import BadResponse, ConfigError, Connection
from monitoring.integrations.commits import (
    BITBUCKET_MERGE,
    MAX_COMMITS,
    Commit,
    Compared,
    GitHost,
    Merge,
    title_of,
)
from monitoring.integrations.http import HttpClient, json_of


def auth_of(conn: Connection) -> dict[str, Any]:
    """An access token as Bearer; otherwise a user name with an app password or API token."""
    if conn.secrets.get("token"):
        return {"headers": {"Authorization": f"Bearer {conn.secrets['token']}"}}
    password = conn.secrets.get("app_password") or conn.secrets.get("api_token")
    if conn.secrets.get("username") and password:
        return {"auth": (conn.secrets["username"], password)}
    raise ConfigError("The integration has no Bitbucket access token or app password.")


def web_base(api: str) -> str:
    return "https://bitbucket.org" if api == "https://api.bitbucket.org" else api


class BitbucketCommits(GitHost):
    kind = "bitbucket"
    label = "Bitbucket"
    default_base_url = "https://api.bitbucket.org"

    def compare(self, conn: Connection, base: str, head: str, client: HttpClient) -> Compared:
        repo = conn.setting("repo")
        if repo.count("/") != 1:
            raise ConfigError(f"The repository must be written workspace/slug, not {repo!r}.")
        api = conn.url(self.default_base_url)
        workspace, slug = (quote(part, safe="") for part in repo.split("/"))
        first = f"{api}/2.0/repositories/{workspace}/{slug}/commits"
        url: str | None = first
        params: dict[str, Any] | None = {"include": head, "exclude": base, "pagelen": 100}
        what = f"the Bitbucket commits {base[:10]}..{head[:10]} of {repo}"
        newest_first: list[Commit] = []
        while url:
            response = client.get(
                url, what=what, params=params, provider="bitbucket", **auth_of(conn)
            )
            body = json_of(response, what=what)
            if not isinstance(body, dict) or not isinstance(body.get("values"), list):
                raise BadResponse(f"The answer for {what} has no values list.")
            newest_first.extend(_commit(v) for v in body["values"] if isinstance(v, dict))
            if len(newest_first) > MAX_COMMITS:
                raise BadResponse(f"More than {MAX_COMMITS} commits in {what}.")
            # ``next`` carries every query parameter.
            url, params = body.get("next"), None
            if url is not None and (
                not isinstance(url, str) or not outbound.same_origin(url, first)
            ):
                raise BadResponse(f"The next page of {what} is not on the API's origin; not read.")
        web = f"{web_base(api)}/{repo}/branches/compare/{head}%0D{base}"
        return Compared(commits=list(reversed(newest_first)), url=web)

    def merge_of(self, commit: Commit) -> Merge | None:
        found = BITBUCKET_MERGE.match(commit.title)
        return Merge(number=found["number"], branch=found["branch"]) if found else None

    def pull_request_url(self, conn: Connection, number: str) -> str:
        repo = str(conn.config.get("repo") or "")
        return f"{web_base(conn.url(self.default_base_url))}/{repo}/pull-requests/{number}"


def _commit(value: dict[str, Any]) -> Commit:
    sha = value.get("hash")
    if not isinstance(sha, str) or not sha:
        raise BadResponse("A commit of the Bitbucket answer has no hash.")
    message = str(value.get("message") or "")
    author = value.get("author") or {}
    name = (author.get("user") or {}).get("display_name") or author.get("raw") or ""
    return Commit(
        sha=sha,
        title=title_of(message),
        message=message,
        author=str(name),
        url=str(((value.get("links") or {}).get("html") or {}).get("href") or ""),
        parents=tuple(
            str(p.get("hash")) for p in value.get("parents") or [] if isinstance(p, dict)
        ),
    )
