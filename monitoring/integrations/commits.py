"""The commits between two releases, as every Git host's compare answer becomes them.

A Git host module (``github_compare``, ``gitlab_compare``, ``bitbucket_commits``) turns its
answer into :class:`Commit` values, oldest first. :func:`changes` groups them into what a person
recognises: a merged pull request with the commits it brought, or a commit on its own, each with
the tracker keys its titles and branch name carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitoring.integrations.base import Connection, FieldSpec
from monitoring.integrations.http import HttpClient
from monitoring.integrations.trackers import keys_in

# More commits than this between two releases is not a release to compare commit by commit.
MAX_COMMITS = 1000

# The setting of a Git host integration that turns the commit range on for its project.
COMPARE_FIELD = FieldSpec(
    "compare_commits",
    "Compare commits between releases",
    required=False,
    help="“yes”: each release lists the commits since the previous release and flags those "
    "that match no scope item.",
)


def compares_commits(config: dict | None) -> bool:
    value = str((config or {}).get("compare_commits") or "").strip().lower()
    return value in {"yes", "true", "on", "1"}


# Merge commit titles, as each host writes them.
GITHUB_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<branch>\S+)")
GITLAB_MERGE = re.compile(r"^Merge branch '(?P<branch>[^']+)' into ")
GITLAB_REQUEST = re.compile(r"See merge request \S*!(?P<number>\d+)")
BITBUCKET_MERGE = re.compile(r"^Merged in (?P<branch>\S+) \(pull request #(?P<number>\d+)\)")
# A squashed pull request: "Add refunds (#123)".
SQUASHED = re.compile(r"\(#(?P<number>\d+)\)\s*$")


@dataclass(frozen=True)
class Commit:
    sha: str
    title: str
    message: str = ""
    author: str = ""
    url: str = ""
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compared:
    """What a host said about ``base...head``: the commits in head and not in base."""

    commits: list[Commit]
    url: str = ""


@dataclass(frozen=True)
class Change:
    """A merged pull request (or merge request) with its commits, or one commit."""

    ref: str
    title: str
    url: str = ""
    branch: str = ""
    author: str = ""
    shas: tuple[str, ...] = ()
    keys: frozenset[str] = field(default_factory=frozenset)
    text: str = ""
    pull_request: bool = False


@dataclass(frozen=True)
class Merge:
    number: str
    branch: str


class GitHost:
    """The compare part of a Git host: ``compare(conn, base, head, client) -> Compared``."""

    kind: str = ""
    label: str = ""

    def compare(self, conn: Connection, base: str, head: str, client: HttpClient) -> Compared:
        raise NotImplementedError

    def merge_of(self, commit: Commit) -> Merge | None:
        raise NotImplementedError

    def pull_request_url(self, conn: Connection, number: str) -> str:
        return ""


def title_of(message: str) -> str:
    return (message or "").strip().splitlines()[0][:300] if (message or "").strip() else ""


def _reach(start: str, by_sha: dict[str, Commit]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in by_sha:
            continue
        seen.add(sha)
        todo.extend(by_sha[sha].parents)
    return seen


def changes(host: GitHost, conn: Connection, commits: Sequence[Commit]) -> list[Change]:
    """The commits grouped into merged pull requests and lone commits, oldest first."""
    by_sha = {commit.sha: commit for commit in commits}
    owner: dict[str, str] = {}
    merges: dict[str, Merge] = {}
    for commit in commits:
        merge = host.merge_of(commit) if len(commit.parents) > 1 else None
        if merge is None:
            continue
        merges[commit.sha] = merge
        # The pull request brought what its branch tip reaches and the mainline did not.
        side = _reach(commit.parents[1], by_sha) - _reach(commit.parents[0], by_sha)
        for sha in side | {commit.sha}:
            owner.setdefault(sha, commit.sha)
    grouped: dict[str, list[Commit]] = {}
    for commit in commits:
        grouped.setdefault(owner.get(commit.sha, commit.sha), []).append(commit)
    result = []
    for lead, members in grouped.items():
        commit = by_sha[lead]
        merge = merges.get(lead)
        titles = [m.title for m in members]
        if merge is not None:
            branch = merge.branch
            # The pull request's own title is its first commit's, not "Merge pull request…".
            named = [m.title for m in members if m.sha != lead] or [commit.title]
            ref, title = f"#{merge.number}", named[0]
            url = host.pull_request_url(conn, merge.number) or commit.url
        else:
            branch = ""
            squashed = SQUASHED.search(commit.title)
            ref = f"#{squashed['number']}" if squashed else commit.sha[:10]
            title = commit.title
            url = host.pull_request_url(conn, squashed["number"]) if squashed else ""
            url = url or commit.url
        text = " ".join([*titles, branch])
        result.append(
            Change(
                ref=ref,
                title=title or commit.sha[:10],
                url=url,
                branch=branch,
                author=commit.author,
                shas=tuple(m.sha for m in members),
                keys=frozenset(keys_in(text)),
                text=text,
                pull_request=merge is not None or ref.startswith("#"),
            )
        )
    return result


def names_key(keys: Iterable[str], text: str, key: str) -> bool:
    """Whether a change names a scope item's tracker key: a Jira-style key among its keys, or
    any other key (a Trello short link) as a whole word of its titles or branch."""
    key = key.strip()
    if not key:
        return False
    if key.upper() in keys:
        return True
    return key in re.split(r"[^A-Za-z0-9_-]+", text)
