"""Local stand-ins for GitHub's and GitLab's APIs, on 127.0.0.1, answering with the providers'
published examples (``recorded/``) and recording what reached them.

The GitHub stand-in checks the App's JWT as GitHub does — RS256 signature with the App's public
key, ``iss`` the App, ``exp`` not passed and at most ten minutes after ``iat`` — issues an
installation token only then, and takes a protection-rule answer only with that token.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def rsa_key_pair() -> tuple[str, Any]:
    """A fresh App key: the private key as GitHub hands out the .pem, and the public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def answer(self, status: int, body: Any = None) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        return json.loads(raw) if raw else None

    def log_message(self, format: str, *args: Any) -> None:
        pass


RUN_CALLBACK = re.compile(r"/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/deployment_protection_rule")
ACCESS_TOKENS = re.compile(r"/app/installations/(\d+)/access_tokens")


class GitHubStandIn(_Server):
    """``POST /app/installations/{id}/access_tokens`` and the runs' protection-rule callback.

    ``callback_status`` answers the callback (GitHub: 204; 422 when nothing waits any more).
    """

    def __init__(self, *, app_id: str, public_key: Any) -> None:
        super().__init__(_GitHubHandler)
        self.app_id = app_id
        self.public_key = public_key
        self.issued: list[str] = []
        self.jwt_refusals: list[str] = []
        self.callbacks: list[dict[str, Any]] = []
        self.callback_status = 204

    def callback_url(self, run_id: int = 30433642) -> str:
        repository = "repos/Codertocat/Hello-World"
        return f"{self.url}/{repository}/actions/runs/{run_id}/deployment_protection_rule"


class _GitHubHandler(_Handler):
    server: GitHubStandIn

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        if match := ACCESS_TOKENS.fullmatch(path):
            problem = self.jwt_problem(token)
            if problem:
                with self.server.lock:
                    self.server.jwt_refusals.append(problem)
                self.answer(401, {"message": problem})
                return
            body = recorded("github_installation_token.json")
            body["token"] = f"ghs_standin{len(self.server.issued)}{match.group(1)}"
            with self.server.lock:
                self.server.issued.append(body["token"])
            self.answer(201, body)
            return
        if match := RUN_CALLBACK.fullmatch(path):
            if token not in self.server.issued:
                self.answer(401, {"message": "Bad credentials"})
                return
            with self.server.lock:
                self.server.callbacks.append(
                    {"run_id": int(match.group(3)), "token": token, "body": self.body()}
                )
            if self.server.callback_status == 422:
                self.answer(422, {"message": "No pending custom deployment protection rule"})
            else:
                self.answer(self.server.callback_status)
            return
        self.answer(404, {"message": "Not Found"})

    def jwt_problem(self, token: str) -> str | None:
        try:
            claims = jwt.decode(
                token,
                self.server.public_key,
                algorithms=["RS256"],
                issuer=self.server.app_id,
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            return f"A JSON web token could not be decoded: {exc}"
        if claims["exp"] - claims["iat"] > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None


class GitLabStandIn(_Server):
    """``GET /api/v4/projects/:id/deployments?status=blocked`` and the approval endpoint."""

    def __init__(self, *, token: str, project: str = "7") -> None:
        super().__init__(_GitLabHandler)
        self.token = token
        self.project = project
        self.blocked: list[dict[str, Any]] = recorded("gitlab_deployments_blocked.json")
        self.approvals: list[dict[str, Any]] = []
        self.queries: list[dict[str, list[str]]] = []


class _GitLabHandler(_Handler):
    server: GitLabStandIn

    def authorised(self) -> bool:
        if self.headers.get("PRIVATE-TOKEN") != self.server.token:
            self.answer(401, {"message": "401 Unauthorized"})
            return False
        return True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not self.authorised():
            return
        if parts.path != f"/api/v4/projects/{self.server.project}/deployments":
            self.answer(404, {"message": "404 Project Not Found"})
            return
        query = parse_qs(parts.query)
        with self.server.lock:
            self.server.queries.append(query)
            wanted = query.get("status", [None])[0]
            self.answer(200, [d for d in self.server.blocked if wanted in (None, d["status"])])

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        if not self.authorised():
            return
        match = re.fullmatch(
            rf"/api/v4/projects/{self.server.project}/deployments/(\d+)/approval", parts.path
        )
        if match is None:
            self.answer(404, {"message": "404 Not Found"})
            return
        body = self.body()
        with self.server.lock:
            self.server.approvals.append({"deployment_id": int(match.group(1)), "body": body})
        answer = recorded("gitlab_deployment_approval.json")
        answer.update(status=body["status"], comment=body.get("comment"))
        self.answer(201, answer)
