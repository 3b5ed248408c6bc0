"""A receiver of Greenlight's outgoing webhooks on 127.0.0.1, written as the README tells a
receiver to: it checks the timestamp and the signature over ``timestamp.body`` itself, answers
each POST with the next of ``statuses`` (the last repeats) and records what arrived."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["x-greenlight-event"]

    @property
    def guid(self) -> str:
        return self.headers["x-greenlight-delivery"]


def verified(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
    """The README's recipe."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), signature)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, statuses: list[int] | None = None, secret: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = list(statuses or [200])
        self.secret = secret
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/greenlight/events"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        ok = verified(
            self.secret,
            body,
            headers.get("x-greenlight-timestamp", ""),
            headers.get("x-greenlight-signature", ""),
        )
        with self.lock:
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            # A receiver refuses what it cannot verify.
            status = status if ok else 401
            self.received.append(Received(headers, body, ok, status))
        return status

    def events(self) -> list[str]:
        return [r.event for r in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.server.answer(headers, raw)
        answer = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass
