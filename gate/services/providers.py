"""The project's deploy gate settings: its GitHub App and its GitLab deployment approvals.

DevOps and release managers set them up (the rule that configures integrations); every change is
in the project's audit log, credentials only as "credentials changed".
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.exceptions import ValidationError
from django.db import transaction

from gate.models import GITHUB_API, PRIVATE_KEY, WEBHOOK_SECRET, GitHubApp, GitLabApprovals
from lib import outbound
from lib.links import has_userinfo
from monitoring.crypto import encrypt_secrets
from monitoring.models import Integration, IntegrationKind, is_http_url
from releases import access as rules
from releases.events import CREDENTIALS_CHANGED, log_project_event
from releases.models import Project, ProjectEventKind


def _valid_private_key(pem: str) -> bool:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return False
    return isinstance(key, RSAPrivateKey)


def _public(app: GitHubApp) -> dict[str, str]:
    return {
        "app_id": app.app_id,
        "slug": app.slug,
        "api_url": app.api_url,
        "repository": app.repository,
    }


def save_github_app(
    project: Project,
    *,
    by: Any,
    app_id: str,
    slug: str = "",
    api_url: str = "",
    repository: str = "",
    private_key: str = "",
    webhook_secret: str = "",
) -> GitHubApp:
    """Set up or change the project's GitHub App. An empty credential keeps the stored one;
    a new App needs both, and an App moved to another API origin asks for them again."""
    rules.CONFIGURE_MONITORING.check(by, project)
    app = GitHubApp.objects.filter(project=project).first()
    before = _public(app) if app is not None else None
    api_url = (api_url or "").strip().rstrip("/") or GITHUB_API
    errors: dict[str, str] = {}
    app_id = (app_id or "").strip()
    if not app_id:
        errors["app_id"] = "Enter the App's client ID or App ID."
    if not is_http_url(api_url):
        errors["api_url"] = "Enter an http:// or https:// address."
    elif has_userinfo(api_url):
        errors["api_url"] = outbound.CREDENTIALS_IN_URL
    repository = (repository or "").strip()
    if repository and repository.count("/") != 1:
        errors["repository"] = "Write the repository as owner/name."
    private_key = (private_key or "").strip()
    if private_key and not _valid_private_key(private_key):
        errors["private_key"] = "This is not an RSA private key in PEM form (the App's .pem file)."
    stored = app.secrets() if app is not None else {}
    moved = app is not None and not outbound.same_origin(app.api_url, api_url)
    if moved:
        stored = {}
    secrets = {
        PRIVATE_KEY: private_key or stored.get(PRIVATE_KEY, ""),
        WEBHOOK_SECRET: (webhook_secret or "").strip() or stored.get(WEBHOOK_SECRET, ""),
    }
    for name, label in ((PRIVATE_KEY, "private key"), (WEBHOOK_SECRET, "webhook secret")):
        if not secrets[name] and name not in errors:
            errors[name] = f"Enter the App's {label}" + (
                " again: the API address changed." if moved else "."
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        app = app or GitHubApp(project=project)
        app.app_id, app.slug = app_id, slug.strip()
        app.api_url, app.repository = api_url, repository
        credentials_changed = secrets != stored
        app.secrets_encrypted = encrypt_secrets(secrets)
        app.save()
        after = _public(app)
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.INTEGRATION,
            action="created" if before is None else "changed",
            summary=f"Deploy gate GitHub App {app.slug or app.app_id} "
            + ("set up" if before is None else "changed")
            + (f"; {CREDENTIALS_CHANGED}" if credentials_changed else ""),
            before=before,
            after=after,
        )
    return app


def remove_github_app(project: Project, *, by: Any) -> None:
    rules.CONFIGURE_MONITORING.check(by, project)
    with transaction.atomic():
        app = GitHubApp.objects.filter(project=project).first()
        if app is None:
            return
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.INTEGRATION,
            action="deleted",
            summary=f"Deploy gate GitHub App {app.slug or app.app_id} removed",
            before=_public(app),
        )
        app.delete()


def set_gitlab_approvals(
    project: Project, *, by: Any, integration: Integration | None
) -> GitLabApprovals | None:
    """Approve the project's blocked GitLab deployments through ``integration`` (one of its
    GitLab integrations), or stop (None)."""
    rules.CONFIGURE_MONITORING.check(by, project)
    if integration is not None and (
        integration.project_id != project.pk or integration.kind != IntegrationKind.GITLAB
    ):
        raise ValidationError({"integration": "Choose one of the project's GitLab integrations."})
    with transaction.atomic():
        config = GitLabApprovals.objects.filter(project=project).first()
        before = config.integration.name if config is not None else None
        after = integration.name if integration is not None else None
        if before == after:
            return config
        if integration is None:
            if config is not None:
                config.delete()
            config = None
        elif config is None:
            config = GitLabApprovals.objects.create(project=project, integration=integration)
        else:
            config.integration = integration
            config.save(update_fields=["integration"])
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.INTEGRATION,
            action="changed",
            summary="GitLab deployment approvals " + (f"through {after}" if after else "stopped"),
            before={"gitlab_approvals": before},
            after={"gitlab_approvals": after},
        )
    return config
