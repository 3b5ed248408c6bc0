"""The network edge for poller tests: a real HTTP server on 127.0.0.1 that answers like a
provider, and helpers to run poll cycles through it."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitoring.models import Check, CheckPhase, Integration
from monitoring.services import polling
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Seen], Answer]


class FakeProvider:
    """A threaded HTTP server; ``respond`` decides every answer and ``seen`` keeps requests.

    Use as a context manager; ``url`` is its base URL.
    """

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer()

            do_PUT = do_POST

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                with provider._lock:
                    provider.seen.append(seen)
                answer = github_status_for(seen, provider.respond(seen))
                if answer.delay:
                    time.sleep(answer.delay)
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if answer.status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        with self._lock:
            return [s.path for s in self.seen]

    def fetches(self) -> list[Seen]:
        """The requests, counting a GitHub check-runs read and its combined-status companion
        as one fetch."""
        with self._lock:
            return [s for s in self.seen if not s.path.endswith("/status")]


def github_status_for(seen: Seen, answer: Answer) -> Answer:
    """A responder written for GitHub's check runs alone also stands for its combined status
    (``/commits/{ref}/status``): a commit that has no statuses, answered as GitHub does."""
    if not seen.path.endswith("/status") or not isinstance(answer.body, dict):
        return answer
    if "check_runs" not in answer.body:
        return answer
    return Answer(
        status=answer.status,
        body={"state": "pending", "statuses": [], "total_count": 0},
        headers=answer.headers,
        delay=answer.delay,
    )


def check_runs(*runs: tuple[str, str, str | None]) -> dict[str, Any]:
    """A GitHub check-runs answer from (name, status, conclusion) triples."""
    return {
        "total_count": len(runs),
        "check_runs": [
            {"id": n, "name": name, "status": status, "conclusion": conclusion}
            for n, (name, status, conclusion) in enumerate(runs, start=1)
        ],
    }


def run_cycle(now: dt.datetime | None = None, **kwargs: Any) -> polling.Dispatch:
    """One dispatcher tick and every fetch it claims, in this process."""
    dispatch = polling.claim_due_checks(now=now)
    for claim in dispatch.claims:
        polling.poll_group(claim.check_ids, claim.token, now=now, **kwargs)
    return dispatch


def github(cast: Any, url: str, name: str = "GitHub", token: str = "ghp_polltoken") -> Integration:
    """A GitHub integration pointed at ``url``, saved the way rita would."""
    return save_integration(
        cast.project,
        by=cast.rita,
        name=name,
        kind="github",
        base_url=url,
        config={"repo": "example/payments"},
        secrets={"token": token},
    )


def add_check(
    release: Any, integration: Integration, by: Any, name: str = "GitHub checks", **fields: Any
) -> Check:
    fields.setdefault("phase", CheckPhase.PRE_RELEASE)
    return save_release_check(release, by=by, integration=integration, name=name, **fields)
