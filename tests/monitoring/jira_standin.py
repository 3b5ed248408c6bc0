"""A stand-in for Jira Cloud on 127.0.0.1: the enhanced JQL search, paged like Jira pages it,
over issues a test can change between syncs, and the version update."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.monitoring.fakes import Answer, FakeProvider, Seen
from tests.monitoring.helpers import recorded


class JiraStandIn:
    def __init__(self) -> None:
        pages = [recorded("jira", "import_page1"), recorded("jira", "import_page2")]
        self.issues: list[dict[str, Any]] = [i for page in pages for i in page["issues"]]
        self.failure: Answer | None = None
        self.provider = FakeProvider(self.respond)

    @property
    def url(self) -> str:
        return self.provider.url

    @property
    def seen(self) -> list[Seen]:
        return self.provider.seen

    def issue(self, key: str) -> dict[str, Any]:
        return next(i for i in self.issues if i["key"] == key)

    def set_status(self, key: str, name: str, category: str) -> None:
        status = self.issue(key)["fields"]["status"]
        status["name"], status["statusCategory"]["key"] = name, category

    def add(self, key: str, summary: str) -> None:
        issue = copy.deepcopy(self.issues[-1])
        issue["key"], issue["id"] = key, str(20000 + len(self.issues))
        issue["fields"]["summary"] = summary
        self.issues.append(issue)

    def respond(self, seen: Seen) -> Answer:
        if self.failure is not None:
            return self.failure
        if seen.method == "PUT" and seen.path.startswith("/rest/api/3/version/"):
            return Answer(body=recorded("jira", "version_released"))
        if seen.path != "/rest/api/3/search/jql":
            return Answer(status=404, body={"errorMessages": ["Not found"]})
        # Two issues a page, like a small maxResults: the import has to follow the token.
        start = int((seen.query.get("nextPageToken") or ["0"])[0])
        page = self.issues[start : start + 2]
        body: dict[str, Any] = {"issues": page, "isLast": start + 2 >= len(self.issues)}
        if not body["isLast"]:
            body["nextPageToken"] = str(start + 2)
        return Answer(body=body)


@contextmanager
def jira_stand_in() -> Iterator[JiraStandIn]:
    stand_in = JiraStandIn()
    with stand_in.provider:
        yield stand_in
