"""GitHub App authentication and the protection rule's answer.

A JWT signed with the App's private key (RS256; ``iat`` a minute in the past for clock drift,
``exp`` ten minutes after it, ``iss`` the App's client or App ID) is exchanged for an
installation token (``POST /app/installations/{id}/access_tokens``, valid an hour), which
answers the run's protection rule at its ``deployment_callback_url``
(``POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule`` with
``environment_name``, ``state`` approved/rejected and a ``comment``; without ``state`` it only
posts a status report). Every request goes through the egress policy.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import jwt

from gate.models import PRIVATE_KEY, GitHubApp
from lib import outbound
from monitoring.integrations.base import ConfigError
from monitoring.integrations.http import HttpClient

API_VERSION = "2022-11-28"
JWT_LIFETIME = 600
CLOCK_DRIFT = 60
# GitHub takes at most 1024 characters of comment per report.
MAX_COMMENT = 1024
CALLBACK_PATH = re.compile(r"/repos/[^/]+/[^/]+/actions/runs/\d+/deployment_protection_rule")


def app_jwt(app: GitHubApp, *, now: float | None = None) -> str:
    key = app.secret(PRIVATE_KEY)
    if not key:
        raise ConfigError("The GitHub App has no private key: enter it in the gate settings.")
    issued = int(now if now is not None else time.time()) - CLOCK_DRIFT
    try:
        return jwt.encode(
            {"iat": issued, "exp": issued + JWT_LIFETIME, "iss": app.app_id},
            key,
            algorithm="RS256",
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ConfigError("The GitHub App's private key cannot sign: enter it again.") from exc


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


def installation_token(app: GitHubApp, installation_id: str, client: HttpClient) -> str:
    what = f"an installation token of GitHub App {app.slug or app.app_id}"
    body = client.post_json(
        f"{app.api_url.rstrip('/')}/app/installations/{int(installation_id)}/access_tokens",
        what=what,
        headers=_headers(app_jwt(app)),
        provider="github",
    )
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ConfigError(f"The answer for {what} holds no token.")
    return token


def callback_problem(app: GitHubApp, url: str) -> str | None:
    """Why ``url`` is not a protection-rule callback of the App's GitHub; None when it is. The
    installation token goes there, so only the App's own API origin is accepted."""
    if not url:
        return "the delivery has no deployment_callback_url"
    same = outbound.same_origin(url, app.api_url)
    prefix = urlsplit(app.api_url).path.rstrip("/")
    path = urlsplit(url).path
    if not same or not path.startswith(prefix) or not CALLBACK_PATH.fullmatch(path[len(prefix) :]):
        return f"the deployment_callback_url is not a protection rule of {app.api_url}"
    return None


def review(
    app: GitHubApp,
    *,
    installation_id: str,
    callback_url: str,
    environment: str,
    state: str | None,
    comment: str,
    client: HttpClient,
) -> None:
    """Approve or reject (``state``), or with ``state`` None only report, the deployment."""
    problem = callback_problem(app, callback_url)
    if problem:
        raise ConfigError(f"Not answered: {problem}.")
    token = installation_token(app, installation_id, client)
    body: dict[str, str] = {"environment_name": environment, "comment": comment[:MAX_COMMENT]}
    if state is not None:
        body["state"] = state
    client.request(
        "POST",
        callback_url,
        what=f"the protection rule of the deployment to {environment}",
        headers=_headers(token),
        json=body,
        provider="github",
    )
