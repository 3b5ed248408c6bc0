"""Outgoing webhooks: a project's subscriptions to its releases' events, and every delivery."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from lib.crypto import decrypt_secrets
from releases.models import Project, Release, ReleaseEvent

SECRET_KEY = "secret"


class Event(models.TextChoices):
    """The public names of what a subscription can follow (``X-Greenlight-Event``)."""

    CREATED = "created", "Release created"
    SCOPE_LOCKED = "scope_locked", "Scope locked"
    SIGN_OFF = "sign_off", "Sign-off given or withdrawn"
    DECISION = "decision", "Go/no-go decision"
    DEPLOY_STARTED = "deploy_started", "Deploy started"
    DEPLOY_DONE = "deploy_done", "Deploy done"
    UNHEALTHY = "unhealthy", "Release unhealthy"
    ROLLED_BACK = "rolled_back", "Rolled back"
    RELEASED = "released", "Released"
    REVIEW_WRITTEN = "review_written", "Review written"
    INCIDENT_OPENED = "incident_opened", "Incident opened"
    INCIDENT_UPDATED = "incident_updated", "Incident updated"
    INCIDENT_RESOLVED = "incident_resolved", "Incident resolved"


class Subscription(models.Model):
    """One receiver of a project's release events, with the secret that signs what it gets."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    name = models.CharField(max_length=100)
    target_url = models.URLField("target URL", max_length=500)
    # Public event names (``Event``); a list, so SQLite and PostgreSQL store it alike.
    events = models.JSONField(default=list)
    # ``lib.crypto`` ciphertext of {"secret": …}; never shown again after it is made.
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    audit_ignore = ("created_by", "created_at")
    encrypted_fields = ("secret_encrypted",)
    # Its latest deliveries, when the webhooks panel lists it (not a column).
    recent: list[Delivery]

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="webhook_subscription_name_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        return decrypt_secrets(self.secret_encrypted)[SECRET_KEY]

    def follows(self, event: str) -> bool:
        return self.active and event in self.events

    def event_labels(self) -> list[str]:
        return [label for value, label in Event.choices if value in self.events]


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def log(self) -> DeliveryQuerySet:
        """Newest first, with what a log row shows."""
        return self.select_related("release").order_by("-created_at", "-pk")


class Delivery(models.Model):
    """One event sent (or to be sent) to one subscription: every attempt is the same signed body
    under the same ``guid``; a redelivery is a new row with the same body and ``guid``."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=30, choices=Event.choices)
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    release_event = models.ForeignKey(
        ReleaseEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    guid = models.UUIDField(default=uuid.uuid4)
    redelivery_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="redeliveries"
    )
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # One entry per attempt: {"at", "status", "duration_ms", "error"}.
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["subscription", "-created_at"]),
            models.Index(fields=["state", "next_attempt_at"]),
        ]
        constraints = [
            # The signal is sent once per event; this makes a second run of the receiver harmless.
            models.UniqueConstraint(
                fields=["subscription", "release_event"],
                condition=models.Q(redelivery_of__isnull=True, release_event__isnull=False),
                name="webhook_delivery_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DELIVERED, self.State.FAILED)
