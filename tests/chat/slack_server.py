"""A local stand-in for Slack's Web API: checks the bot token, answers each method with Slack's
published example (``recorded/``) and records every call."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RECORDED = Path(__file__).parent / "recorded"
TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T12345678"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    authorization: str


class SlackServer(ThreadingHTTPServer):
    """``users``: email → Slack user ID for users.lookupByEmail; ``fail``: method → (HTTP
    status, body) to answer instead of the example."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[Call] = []
        self.users: dict[str, str] = {}
        self.fail: dict[str, tuple[int, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self._ts = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def called(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def answer(self, method: str, args: dict[str, Any], authorization: str) -> tuple[int, Any]:
        with self.lock:
            self.calls.append(Call(method, args, authorization))
            if method in self.fail:
                return self.fail[method]
            ts = f"1700000000.{next(self._ts):06d}"
        if authorization != f"Bearer {TOKEN}":
            return 200, recorded("invalid_auth.json")
        if method == "auth.test":
            return 200, recorded("auth_test.json")
        if method == "conversations.open":
            body = recorded("conversations_open.json")
            body["channel"]["id"] = "D" + str(args.get("users", ""))
            return 200, body
        if method == "chat.postMessage":
            body = recorded("chat_post_message.json")
            body["channel"], body["ts"] = args.get("channel"), ts
            body["message"]["ts"] = ts
            return 200, body
        if method == "chat.update":
            body = recorded("chat_update.json")
            body["channel"], body["ts"] = args.get("channel"), args.get("ts")
            return 200, body
        if method == "chat.postEphemeral":
            return 200, recorded("chat_post_ephemeral.json")
        if method == "views.open":
            body = recorded("views_open.json")
            body["view"].update(args.get("view") or {})
            return 200, body
        if method == "users.lookupByEmail":
            slack_user = self.users.get(str(args.get("email", "")))
            if slack_user is None:
                return 200, recorded("users_not_found.json")
            body = recorded("users_lookup_by_email.json")
            body["user"]["id"], body["user"]["team_id"] = slack_user, TEAM_ID
            body["user"]["profile"]["email"] = args.get("email")
            return 200, body
        return 200, {"ok": False, "error": "unknown_method"}


class _Handler(BaseHTTPRequestHandler):
    server: SlackServer

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(raw)

    def _method(self) -> str:
        return urlsplit(self.path).path.rsplit("/", 1)[-1]

    def do_GET(self) -> None:
        args = dict(parse_qsl(urlsplit(self.path).query))
        self._reply(
            *self.server.answer(self._method(), args, self.headers.get("Authorization", ""))
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        args = json.loads(raw) if raw else {}
        self._reply(
            *self.server.answer(self._method(), args, self.headers.get("Authorization", ""))
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass
