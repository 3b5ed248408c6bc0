"""The network edge for the adapter tests: recorded answers served through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitoring.integrations.base import (
    Adapter,
    CheckSpec,
    Connection,
    Observation,
    observe_group,
)
from monitoring.integrations.http import HttpClient

RECORDED = Path(__file__).parent / "recorded"
NOW = 1_700_000_000.0

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def recorded(kind: str, name: str) -> Any:
    return json.loads((RECORDED / kind / f"{name}.json").read_text())


def ok(kind: str, name: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json=recorded(kind, name), headers=headers)


@dataclass
class FakeApi:
    """Answers requests in order with ``replies`` and keeps every request it saw.

    A reply is a response, an exception to raise (a timeout), or a function of the request.
    The last reply is reused when requests outnumber replies.
    """

    replies: Sequence[Reply]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def client(self) -> HttpClient:
        return HttpClient(
            transport=httpx.MockTransport(self), now=lambda: NOW, sleep=lambda seconds: None
        )

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def observe_all(
    adapter: Adapter,
    conn: Connection,
    specs: Sequence[CheckSpec],
    *replies: Reply,
    etag: str | None = None,
) -> tuple[list[Observation], FakeApi]:
    api = FakeApi(replies)
    with api.client() as client:
        return observe_group(adapter, conn, specs, client, etag=etag), api


def observe(
    adapter: Adapter, conn: Connection, spec: CheckSpec, *replies: Reply, etag: str | None = None
) -> tuple[Observation, FakeApi]:
    observations, api = observe_all(adapter, conn, [spec], *replies, etag=etag)
    assert len(observations) == 1
    return observations[0], api


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


# (reply, expected error label, permanent, retry_after) for the failures every API adapter
# must turn into an error, never into a pass.
HTTP_FAILURES = [
    pytest.param(
        httpx.Response(401, json={"message": "Bad credentials"}),
        "no access",
        True,
        None,
        id="401",
    ),
    pytest.param(
        httpx.Response(404, json={"message": "Not Found"}), "not found", True, None, id="404"
    ),
    pytest.param(
        httpx.Response(429, headers={"Retry-After": "30"}, text="Retry later"),
        "rate limited",
        False,
        30.0,
        id="429",
    ),
    pytest.param(
        httpx.Response(500, text="Internal Server Error"), "unavailable", False, None, id="500"
    ),
    pytest.param(timeout, "unavailable", False, None, id="timeout"),
    pytest.param(
        httpx.Response(200, text='{"oops": ', headers={"Content-Type": "application/json"}),
        "unreadable response",
        False,
        None,
        id="malformed-json",
    ),
]


def assert_error(
    observation: Observation, label: str, permanent: bool, retry_after: float | None
) -> None:
    assert observation.status == "error", observation
    assert observation.value == label
    assert observation.permanent is permanent
    assert observation.retry_after == retry_after
    assert observation.detail
