"""The deploy gate's rows: the project's GitHub App, GitLab deployment approvals, and the
requests from CI that wait for an answer."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from monitoring.crypto import SecretsUnreadable, decrypt_secrets
from monitoring.models import Integration
from releases.models import Project, Release

GITHUB_API = "https://api.github.com"
PRIVATE_KEY = "private_key"
WEBHOOK_SECRET = "webhook_secret"


class GitHubApp(models.Model):
    """The GitHub App that makes Greenlight a custom deployment protection rule of a project's
    repository environments. Its private key and webhook secret are stored encrypted."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="github_app")
    # The App's client ID (recommended by GitHub) or its numeric App ID: the JWT's issuer.
    app_id = models.CharField(max_length=100)
    slug = models.CharField(max_length=100, blank=True)
    # https://api.github.com, or a GitHub Enterprise Server's https://HOST/api/v3.
    api_url = models.CharField(max_length=300, default=GITHUB_API)
    # owner/name; deliveries about any other repository change nothing. Empty: any repository
    # the App is installed on.
    repository = models.CharField(max_length=200, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    audit_secrets = ("secrets_encrypted",)

    def __str__(self) -> str:
        return f"GitHub App {self.slug or self.app_id} of {self.project}"

    def secrets(self) -> dict[str, str]:
        return decrypt_secrets(self.secrets_encrypted)

    def secret(self, name: str) -> str:
        try:
            return self.secrets().get(name, "")
        except SecretsUnreadable:
            return ""

    def stored_secret_names(self) -> set[str]:
        try:
            return {name for name, value in self.secrets().items() if value}
        except SecretsUnreadable:
            return set()


class GitLabApprovals(models.Model):
    """Greenlight approves or rejects the project's blocked GitLab deployments, through the
    credentials of one of its GitLab integrations (whose token's user may approve)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="gitlab_approvals"
    )
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"GitLab deployment approvals of {self.project} through {self.integration}"


class Provider(models.TextChoices):
    GITHUB = "github", "GitHub protection rule"
    GITLAB = "gitlab", "GitLab deployment approval"


class RequestState(models.TextChoices):
    PENDING = "pending", "Waiting"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class GateRequest(models.Model):
    """A deploy that CI holds until Greenlight answers: a GitHub protection-rule request or a
    blocked GitLab deployment. Answered at once when the gate is open or closed for good, else
    when it opens (the Go arrives, the freeze ends) or closes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gate_requests")
    provider = models.CharField(max_length=10, choices=Provider.choices)
    # GitHub's deployment id, or GitLab's: one request per deployment.
    deployment_id = models.CharField(max_length=40)
    environment = models.CharField(max_length=100)
    sha = models.CharField(max_length=40)
    repository = models.CharField(max_length=200, blank=True)
    # GitHub: where the answer goes, and the installation whose token may give it.
    callback_url = models.CharField(max_length=500, blank=True)
    installation_id = models.CharField(max_length=40, blank=True)
    state = models.CharField(
        max_length=10, choices=RequestState.choices, default=RequestState.PENDING
    )
    # The release the answer was about (the deploy it approved is that release's).
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="gate_requests"
    )
    comment = models.CharField(max_length=1024, blank=True)
    # A waiting report was posted (GitHub keeps at most 10 per deployment).
    reported_waiting = models.BooleanField(default=False)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "provider", "deployment_id"], name="one_gate_request_per_deploy"
            )
        ]
        indexes = [models.Index(fields=["state", "provider"])]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.deployment_id} ({self.state})"


class AppDelivery(models.Model):
    """A GitHub App webhook delivery already processed: the unique key makes a replay a no-op."""

    app = models.ForeignKey(GitHubApp, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=60, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["app", "delivery_id"], name="unique_app_delivery")
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
