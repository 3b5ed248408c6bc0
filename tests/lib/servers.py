"""A tiny HTTP server on 127.0.0.1 that answers each path as told and keeps what reached it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b'{"status": "ok"}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.answers: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def answer(self, path: str, answer: Answer) -> None:
        self.answers[path] = answer

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.answers[path] = Answer(status, b"", {"Location": location})


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            self.server.seen.append(Seen(self.command, self.path, headers, body))
        answer = self.server.answers.get(self.path.split("?", 1)[0], Answer())
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[Server]:
    server = Server(host)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
