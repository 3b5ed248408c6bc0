"""Small servers on 127.0.0.1 for notification tests: a chat webhook and an SMTP server that
answer as told (fail, then succeed) and record what reached them."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Posted:
    """One POST as it arrived: headers (lower-case names) and the raw body."""

    headers: dict[str, str]
    body: bytes


class WebhookServer(ThreadingHTTPServer):
    """Answers each POST with the next status of ``statuses`` (the last one repeats).

    ``received`` keeps each body as JSON, ``posted`` each request as it arrived.
    """

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []
        self.posted: list[Posted] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/greenlight"

    def next_status(self, body: dict[str, Any], posted: Posted | None = None) -> int:
        with self.lock:
            self.received.append(body)
            if posted is not None:
                self.posted.append(posted)
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class _WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.server.next_status(json.loads(raw or b"{}"), Posted(headers, raw))
        payload = b"ok" if status < 400 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SmtpServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Django's backend; turns away the first ``refuse`` connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.refuse = refuse
        self.connections = 0
        self.messages: list[str] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpServer

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            turned_away = self.server.connections <= self.server.refuse
        if turned_away:
            self.say("421 4.3.2 Service not available, try again later")
            return
        self.say("220 localhost ESMTP test")
        in_data = False
        lines: list[str] = []
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    with self.server.lock:
                        self.server.messages.append("\n".join(lines))
                    lines = []
                    self.say("250 2.0.0 Queued")
                else:
                    lines.append(line)
                continue
            command = line[:4].upper()
            if command in ("EHLO", "HELO"):
                self.say("250 localhost")
            elif command == "DATA":
                in_data = True
                self.say("354 End data with <CR><LF>.<CR><LF>")
            elif command == "QUIT":
                self.say("221 2.0.0 Bye")
                return
            else:
                self.say("250 2.0.0 OK")


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
