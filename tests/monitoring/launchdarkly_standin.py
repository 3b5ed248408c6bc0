"""A local stand-in for LaunchDarkly's REST API: flags held in memory, served in the shape of the
recorded answers (``recorded/launchdarkly``), and every semantic patch recorded as it arrived."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.monitoring.helpers import recorded

SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class LaunchDarklyStandIn(ThreadingHTTPServer):
    """``flags``: flag key → {environment key: on}. ``on_patch(key, body)`` runs after a
    semantic patch switched a flag, as the application under watch would notice it."""

    def __init__(
        self,
        flags: dict[str, dict[str, bool]],
        *,
        project: str = "shop",
        on_patch: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.daemon_threads = True
        self.flags = flags
        self.project = project
        self.on_patch = on_patch
        self.patches: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def flag(self, key: str) -> dict[str, Any]:
        body = copy.deepcopy(recorded("launchdarkly", "flag_rollout"))
        template = body["environments"]["test"]
        body["key"] = body["name"] = key
        body["environments"] = {}
        for env, on in self.flags[key].items():
            config = copy.deepcopy(template)
            config["on"] = on
            config["_environmentName"] = env.title()
            body["environments"][env] = config
        return body


class _Handler(BaseHTTPRequestHandler):
    server: LaunchDarklyStandIn

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _flag_key(self) -> str | None:
        prefix = f"/api/v2/flags/{self.server.project}/"
        path = self.path.split("?", 1)[0]
        return path[len(prefix) :] if path.startswith(prefix) else None

    def _seen(self) -> None:
        with self.server.lock:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.server.requests.append((self.command, self.path, headers))

    def do_GET(self) -> None:
        self._seen()
        key = self._flag_key()
        if self.headers.get("Authorization") != "api-standin":
            self._send(401, recorded("launchdarkly", "error_401"))
        elif key is None or key not in self.server.flags:
            self._send(404, recorded("launchdarkly", "error_404"))
        else:
            with self.server.lock:
                self._send(200, self.server.flag(key))

    def do_PATCH(self) -> None:
        self._seen()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self._flag_key()
        if self.headers.get("Authorization") != "api-standin":
            self._send(401, recorded("launchdarkly", "error_401"))
            return
        if key is None or key not in self.server.flags:
            self._send(404, recorded("launchdarkly", "error_404"))
            return
        if self.headers.get("Content-Type") != SEMANTIC_PATCH:
            # Without the domain model the body is read as a JSON Patch, which this is not.
            self._send(400, {"code": "invalid_request", "message": "Invalid JSON Patch"})
            return
        body = json.loads(raw)
        environment = body.get("environmentKey")
        with self.server.lock:
            if body.get("instructions") != [{"kind": "turnFlagOff"}] or (
                environment not in self.server.flags[key]
            ):
                self._send(400, {"code": "invalid_request", "message": "Invalid instructions"})
                return
            self.server.flags[key][environment] = False
            self.server.patches.append({"flag": key, **body})
            answer = self.server.flag(key)
        if self.server.on_patch is not None:
            self.server.on_patch(key, body)
        self._send(200, answer)

    def log_message(self, *args: Any) -> None:
        pass
