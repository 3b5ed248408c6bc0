"""GitLab deployment approvals: the project's blocked deployments
(``GET /projects/:id/deployments?status=blocked``) and their approval or rejection
(``POST /projects/:id/deployments/:deployment_id/approval`` with ``status`` approved/rejected
and a ``comment``), with the token of one of the project's GitLab integrations. Its user must be
allowed to deploy to the protected environment (and, unless the environment allows it, must not
be the one who ran the pipeline). An approved job does not start by itself on GitLab: a manual
deploy job still has to be run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gate.models import GitLabApprovals
from monitoring.integrations.base import BadResponse, ConfigError
from monitoring.integrations.http import HttpClient

GITLAB = "https://gitlab.com"


@dataclass(frozen=True)
class Blocked:
    deployment_id: str
    environment: str
    sha: str


def _where(config: GitLabApprovals) -> tuple[str, str, str]:
    conn = config.integration.connection()
    project = conn.setting("project")
    token = conn.secret("token")
    if not project or not token:
        raise ConfigError(
            f"The GitLab integration {config.integration.name} needs a project and a token."
        )
    return f"{conn.url(GITLAB)}/api/v4/projects/{quote(project, safe='')}", project, token


def blocked_deployments(config: GitLabApprovals, client: HttpClient) -> list[Blocked]:
    base, project, token = _where(config)
    what = f"the blocked deployments of GitLab project {project}"
    body: Any = client.get_json(
        f"{base}/deployments",
        what=what,
        headers={"PRIVATE-TOKEN": token},
        params={"status": "blocked", "order_by": "id", "sort": "desc", "per_page": 50},
        provider="gitlab",
    )
    if not isinstance(body, list) or not all(isinstance(d, dict) for d in body):
        raise BadResponse(f"The answer for {what} is not a list of deployments.")
    found = []
    for deployment in body:
        environment = deployment.get("environment") or {}
        name = environment.get("name") if isinstance(environment, dict) else None
        if deployment.get("id") is None or not name or not deployment.get("sha"):
            continue
        found.append(Blocked(str(deployment["id"]), str(name), str(deployment["sha"])))
    return found


def review(
    config: GitLabApprovals, *, deployment_id: str, state: str, comment: str, client: HttpClient
) -> None:
    base, project, token = _where(config)
    client.request(
        "POST",
        f"{base}/deployments/{quote(deployment_id, safe='')}/approval",
        what=f"the approval of deployment {deployment_id} of GitLab project {project}",
        headers={"PRIVATE-TOKEN": token},
        json={"status": state, "comment": comment},
        provider="gitlab",
    )
