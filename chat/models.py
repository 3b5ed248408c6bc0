"""Slack as a second door: a project's Slack app, who is who in Slack, the messages sent.

Nothing here decides anything: the buttons of a message call the approvals and monitoring
services, which hold the rules.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from monitoring.crypto import decrypt_secrets, encrypt_secrets
from releases.models import Project, Release


class SlackApp(models.Model):
    """The Slack app a project talks through: its bot token and signing secret (encrypted)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="slack_app")
    # Filled from Slack's auth.test when the token is saved: the workspace the app is in.
    team_id = models.CharField(max_length=32, blank=True)
    team_name = models.CharField(max_length=120, blank=True)
    bot_user_id = models.CharField(max_length=32, blank=True)
    release_channel = models.CharField(
        max_length=32,
        blank=True,
        help_text="Channel ID (C…) that follows every release of the project; empty for none.",
    )
    secrets_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_secrets = ("secrets_encrypted",)
    audit_ignore = ("team_name", "bot_user_id")

    def __str__(self) -> str:
        return f"Slack app of {self.project.name}"

    @property
    def secrets(self) -> dict[str, str]:
        return decrypt_secrets(self.secrets_encrypted)

    def set_secrets(self, *, bot_token: str, signing_secret: str) -> None:
        self.secrets_encrypted = encrypt_secrets(
            {"bot_token": bot_token, "signing_secret": signing_secret}
        )

    @property
    def bot_token(self) -> str:
        return self.secrets.get("bot_token", "")

    @property
    def signing_secret(self) -> str:
        return self.secrets.get("signing_secret", "")


class SlackLink(models.Model):
    """This Slack user in this workspace is this Greenlight account."""

    class Method(models.TextChoices):
        EMAIL = "email", "Matching email address"
        LINK = "link", "One-time link"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_links"
    )
    team_id = models.CharField(max_length=32)
    slack_user_id = models.CharField(max_length=32)
    method = models.CharField(max_length=10, choices=Method.choices)
    linked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team_id", "slack_user_id"], name="one_account_per_slack_user"
            ),
            models.UniqueConstraint(fields=["team_id", "user"], name="one_slack_user_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.slack_user_id} in {self.team_id} → {self.user}"


class SlackLinkCode(models.Model):
    """A one-time link a Slack user opens while signed in to Greenlight to link the two.

    Only the SHA-256 of the code is kept; the code itself is shown once, privately, in Slack.
    """

    app = models.ForeignKey(SlackApp, on_delete=models.CASCADE, related_name="link_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    slack_user_id = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Link code for {self.slack_user_id}"


class SlackMessage(models.Model):
    """A message Greenlight posted about a release, kept so it can be updated after a change."""

    class Kind(models.TextChoices):
        # A person's own card: what they are asked, with the buttons they may press.
        PERSONAL = "personal", "Direct message"
        CHANNEL = "channel", "Release channel"

    app = models.ForeignKey(SlackApp, on_delete=models.CASCADE, related_name="messages")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="slack_messages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Why the message was sent (its first line, and Slack's notification text), and the release
    # event that sent it: a task run again after a failure does not send it twice.
    lead = models.CharField(max_length=300, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=32)
    ts = models.CharField(max_length=32)
    # A digest of what the message shows now: an update that changes nothing is not sent.
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "ts"], name="unique_slack_message"),
        ]
        indexes = [models.Index(fields=["release", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.channel}/{self.ts} on {self.release_id}"


class ApprovedContent(models.Model):
    """How often what people approve on a release has changed (a new commit, an accepted scope
    change, a required item unticked: whatever makes sign-offs stale). A button carries the
    count it was drawn with, so a press from an older message is refused."""

    release = models.OneToOneField(
        Release, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    changes = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.release_id}: {self.changes}"


class SlackRequest(models.Model):
    """A signed request already acted upon, kept for the five minutes its signature is valid:
    the same request sent again (a replay) is refused."""

    signature = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.signature[:12]
