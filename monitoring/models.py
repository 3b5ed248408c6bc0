"""Integrations (CI, monitoring, issue tracker), the checks that read them, and their results."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from monitoring.crypto import SecretsUnreadable, decrypt_secrets
from monitoring.integrations.base import Connection
from releases.models import Project, Release, ScopeChangeRequest, ScopeItem


class IntegrationKind(models.TextChoices):
    GITHUB = "github", "GitHub Actions"
    GITLAB = "gitlab", "GitLab CI"
    JENKINS = "jenkins", "Jenkins"
    CIRCLECI = "circleci", "CircleCI"
    PROMETHEUS = "prometheus", "Prometheus"
    DATADOG = "datadog", "Datadog"
    NEWRELIC = "newrelic", "New Relic"
    SENTRY = "sentry", "Sentry"
    JIRA = "jira", "Jira"
    CLICKUP = "clickup", "ClickUp"
    TRELLO = "trello", "Trello"
    HTTP = "http_health", "HTTP health"
    PARITY = "parity", "Environment parity"
    BITBUCKET = "bitbucket", "Bitbucket build statuses"
    LAUNCHDARKLY = "launchdarkly", "LaunchDarkly"
    SPLIT = "split", "Split"
    UNLEASH = "unleash", "Unleash"
    # Results arrive only by push (REST API or webhook); nothing is polled.
    PUSH = "push", "Pushed results"


def is_http_url(url: str) -> bool:
    """http(s) with a host. Internal names without a dot (``prometheus:9090``) are fine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and not any(c.isspace() or ord(c) < 32 for c in url)
    )


def validate_http_url(url: str) -> None:
    if url and not is_http_url(url):
        raise ValidationError("Enter an http:// or https:// address.")


# Kinds whose provider can push results to a per-integration webhook URL.
WEBHOOK_KINDS = (IntegrationKind.GITHUB, IntegrationKind.GITLAB, IntegrationKind.BITBUCKET)
# Kinds that read feature flags: a scope item can name its flag in one of them.
FLAG_KINDS = (IntegrationKind.LAUNCHDARKLY, IntegrationKind.SPLIT, IntegrationKind.UNLEASH)


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half-open"


class Integration(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="integrations")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=IntegrationKind.choices)
    base_url = models.CharField(max_length=300, blank=True, validators=[validate_http_url])
    config = models.JSONField(default=dict, blank=True)
    # Credentials as Fernet ciphertext of a JSON object; never rendered back or logged.
    secrets_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)

    # The integration's own health, shared by every worker.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_state = models.CharField(
        max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    # Set from 429 Retry-After / rate-limit reset headers: no call before this.
    backoff_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    # Kept up to date by the poller, not set by people: the project log leaves them out.
    audit_ignore = (
        "last_success_at",
        "last_error_at",
        "last_error",
        "consecutive_failures",
        "circuit_state",
        "circuit_opened_at",
        "backoff_until",
    )

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_integration_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_polled(self) -> bool:
        return self.kind != IntegrationKind.PUSH

    def secrets(self) -> dict[str, str]:
        """The decrypted credentials. Raises ``SecretsUnreadable`` when no key fits."""
        return decrypt_secrets(self.secrets_encrypted)

    def stored_secret_names(self) -> set[str]:
        """Which credentials are set (shown as "stored" in forms; the values never are)."""
        try:
            return {name for name, value in self.secrets().items() if value}
        except SecretsUnreadable:
            return set()

    def connection(self, *, with_secrets: bool = True) -> Connection:
        """The integration as an adapter sees it; grouping needs no credentials."""
        return Connection(
            kind=self.kind,
            base_url=self.base_url,
            config=dict(self.config or {}),
            secrets=self.secrets() if with_secrets else {},
        )


class CheckStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PASSING = "passing", "Passing"
    FAILING = "failing", "Failing"
    ERROR = "error", "Error"
    NEEDS_JUDGEMENT = "needs_judgement", "Needs judgement"


class CheckPhase(models.TextChoices):
    PRE_RELEASE = "pre_release", "Pre-release (readiness)"
    POST_RELEASE = "post_release", "Post-release (health)"


class Comparator(models.TextChoices):
    LT = "lt", "<"
    LTE = "lte", "≤"
    GT = "gt", ">"
    GTE = "gte", "≥"
    EQ = "eq", "="
    NE = "ne", "≠"


class Check(models.Model):
    """A gate that reads one integration for one release, or a project template copied onto
    new releases (``release`` empty, ``project`` set)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="check_templates"
    )
    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, null=True, blank=True, related_name="checks"
    )
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="checks")
    name = models.CharField(max_length=120)
    phase = models.CharField(
        max_length=12, choices=CheckPhase.choices, default=CheckPhase.PRE_RELEASE
    )
    required = models.BooleanField(default=True)
    # What to read: check/workflow name, pipeline, job, PromQL, monitor id, JQL…
    params = models.JSONField(default=dict, blank=True)
    comparator = models.CharField(max_length=3, choices=Comparator.choices, blank=True)
    threshold = models.FloatField(null=True, blank=True)

    # Timing.
    stabilisation_seconds = models.PositiveIntegerField(
        default=0, help_text="Wait this long after the phase starts before the first evaluation."
    )
    interval_seconds = models.PositiveIntegerField(default=60)
    hold_seconds = models.PositiveIntegerField(
        default=0, help_text="A passing result must hold this long before it counts."
    )
    timeout_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="A check that never passed within this long fails."
    )

    # Current state.
    status = models.CharField(
        max_length=16, choices=CheckStatus.choices, default=CheckStatus.PENDING, db_index=True
    )
    last_value = models.CharField(max_length=200, blank=True)
    last_detail = models.TextField(blank=True)
    last_url = models.URLField(max_length=500, blank=True)
    observed_sha = models.CharField(max_length=64, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    passing_since = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    # The validator of the last successful read; empty whenever the current result came from
    # anywhere else (an error, a webhook, the API), so a 304 can only confirm what was read.
    etag = models.CharField(max_length=200, blank=True)
    # The provider's own facts behind the current result (run, attempt, finished, provider time;
    # see ``integrations.base.Evidence``) and a re-run requested since: a report that is not
    # newer than these never replaces the result.
    evidence = models.JSONField(default=dict, blank=True, editable=False)
    # When the current evaluation period began (the phase started or the commit changed): the
    # stabilisation delay and the timeout count from here.
    started_at = models.DateTimeField(null=True, blank=True)
    # First passing result in the current period; a check that has passed never times out.
    first_passed_at = models.DateTimeField(null=True, blank=True)
    # Set while the status is a person's judgement; an adapter that still cannot decide does not
    # overwrite it, a definite result does.
    judged_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher's claim: the fetch task holding it is the only one that may write the
    # result, so a redelivered task finds it gone and changes nothing.
    poll_claim = models.UUIDField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)

    # The current state is the poller's, not a setting: the project log leaves it out.
    audit_ignore = (
        "release",
        "status",
        "last_value",
        "last_detail",
        "last_url",
        "observed_sha",
        "last_evaluated_at",
        "last_changed_at",
        "passing_since",
        "next_poll_at",
        "consecutive_errors",
        "etag",
        "evidence",
        "started_at",
        "first_passed_at",
        "judged_at",
        "poll_claim",
    )

    class Meta:
        ordering = ["phase", "name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(release__isnull=False) | Q(project__isnull=False),
                name="check_belongs_somewhere",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_template(self) -> bool:
        return self.release_id is None

    def is_stale_for(self, commit_sha: str) -> bool:
        """A pre-release result observed on another commit says nothing about this one."""
        return bool(
            self.phase == CheckPhase.PRE_RELEASE
            and self.observed_sha
            and commit_sha
            and self.observed_sha != commit_sha
        )

    def counts_as_passing(self, *, commit_sha: str, now: dt.datetime | None = None) -> bool:
        """Fail closed: only a passing result on this commit, held long enough, counts."""
        if self.status != CheckStatus.PASSING or self.is_stale_for(commit_sha):
            return False
        if self.hold_seconds and self.passing_since:
            held = (now or timezone.now()) - self.passing_since
            return held >= dt.timedelta(seconds=self.hold_seconds)
        return True


class CheckResult(models.Model):
    """One row per status change of a check (repeats only touch ``Check.last_evaluated_at``)."""

    check_ref = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="results")
    status = models.CharField(max_length=16, choices=CheckStatus.choices)
    value = models.CharField(max_length=200, blank=True)
    numeric = models.FloatField(null=True, blank=True)
    detail = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    sha = models.CharField(max_length=64, blank=True)
    source = models.CharField(
        max_length=20, default="poll", help_text="poll, webhook, api or judgement"
    )
    judged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    observed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-observed_at", "-pk"]
        indexes = [models.Index(fields=["check_ref", "-observed_at"])]

    def __str__(self) -> str:
        return f"{self.check_ref} {self.status} at {self.observed_at:%H:%M:%S}"


class PollerHeartbeat(models.Model):
    """When the dispatcher last ran (one row per dispatcher name): the beat health check."""

    name = models.CharField(max_length=40, unique=True)
    ran_at = models.DateTimeField()
    claimed = models.PositiveIntegerField(default=0)
    groups = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.ran_at:%H:%M:%S}"


class WebhookDelivery(models.Model):
    """Inbound deliveries already processed; the unique key turns a replay into a no-op.

    The key is the integration's: GitHub gives every webhook an event goes to the same delivery
    id, so two projects on one repository each receive it once.
    """

    provider = models.CharField(max_length=20)
    delivery_id = models.CharField(max_length=200)
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    event = models.CharField(max_length=60, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # What the delivery did, as it was answered: the integration's activity.
    outcome = models.CharField(max_length=20, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "provider", "delivery_id"],
                name="unique_webhook_delivery_per_integration",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.delivery_id}"


class TriggerMode(models.TextChoices):
    RECOMMEND = "recommend", "Recommend a rollback (a person decides)"
    AUTOMATIC = "automatic", "Roll back automatically"


class RollbackTrigger(models.Model):
    """A trigger of the release's rollback plan, bound to one of its post-release checks.

    The condition is the check's own: its comparator and threshold ("error rate > 2 %") and its
    hold time ("for 5 min": the check must have been failing that long). When it breaches,
    Greenlight recommends the rollback to the plan's decider or starts it at once.
    """

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="rollback_triggers")
    check_ref = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="rollback_triggers")
    mode = models.CharField(max_length=10, choices=TriggerMode.choices)
    description = models.CharField(max_length=200)
    # The breach it last acted on. A check that recovers and fails again is a new breach, which
    # fires the trigger again (its failure began after this).
    fired_at = models.DateTimeField(null=True, blank=True)
    # The action: roll the release back (empty), or switch this one feature flag off.
    flag = models.ForeignKey(
        "FeatureFlag",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rollback_triggers",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["check_ref"], name="one_rollback_trigger_per_check")
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.get_mode_display().lower()})"


class RollbackWebhookSecret(models.Model):
    """The project's key for signing rollback webhook calls, Fernet-encrypted at rest like
    integration credentials (``manage.py rotate_secrets`` re-encrypts it too)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="rollback_webhook_secret"
    )
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Rollback webhook secret of {self.project}"


class RollbackWebhookCall(models.Model):
    """The one call to the rollback plan's webhook after an automatic rollback.

    One row per release (a release is rolled back once), created in the rollback's transaction.
    The task that sends it claims it first (``pending`` → ``sending``), so a task delivered
    twice calls once; ``body`` holds the exact bytes signed and sent, the same on every attempt.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown"

    release = models.OneToOneField(
        Release, on_delete=models.CASCADE, related_name="rollback_webhook_call"
    )
    trigger = models.ForeignKey(
        RollbackTrigger, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Rollback webhook of {self.release} ({self.get_state_display().lower()})"


# --- feature flags ------------------------------------------------------------------------------


class FeatureFlag(models.Model):
    """A scope item's feature flag in one flag integration (LaunchDarkly, Split, Unleash).

    ``states`` is what was last read, per environment (``integrations.flagstate.FlagState`` as
    JSON); it is shown on the release page and is never evidence for a gate — the checks read
    the provider themselves.
    """

    scope_item = models.ForeignKey(
        ScopeItem, on_delete=models.CASCADE, related_name="feature_flags"
    )
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="feature_flags"
    )
    key = models.CharField(max_length=200)
    states = models.JSONField(default=dict, blank=True, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    read_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scope_item", "key", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_item", "integration", "key"], name="unique_flag_per_scope_item"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.integration.name})"


class FlagSwitch(models.Model):
    """Switching one flag off in one environment, asked for by a trigger or a person.

    Written in the transaction that decided it; the task that calls the provider claims it
    first (``pending`` → ``sending``), so a task delivered twice calls once.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        DONE = "done", "Switched off"
        FAILED = "failed", "Failed"

    flag = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE, related_name="switches")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="flag_switches")
    trigger = models.ForeignKey(
        RollbackTrigger, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    environment = models.CharField(max_length=100)
    reason = models.CharField(max_length=500)
    requested_by = models.CharField(max_length=150)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.flag.key} off in {self.environment} ({self.get_state_display().lower()})"


# --- scope from trackers and the commit range ---------------------------------------------------


class ScopeSource(models.Model):
    """Where a release's scope is imported from: a query of an issue tracker, synced on demand
    and on a schedule. Items are added through the scope services, so after the scope lock a
    new item is a scope change request like any late addition."""

    class Source(models.TextChoices):
        FIX_VERSION = "fix_version", "Jira fixVersion"
        JQL = "jql", "Jira JQL search"
        LIST = "list", "List"
        TAG = "tag", "ClickUp tag"
        VIEW = "view", "ClickUp view"
        LABEL = "label", "Trello label"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="scope_sources")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="scope_sources"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    query = models.CharField(max_length=500)
    auto_sync = models.BooleanField(default=True)
    # Jira fixVersion: mark the version released in Jira once the release is released.
    release_version = models.BooleanField(default=False)
    version_id = models.CharField(max_length=40, blank=True)
    version_released_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "integration", "source", "query"],
                name="unique_scope_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.query}"


class TrackedItem(models.Model):
    """What the tracker said about one scope item at the last sync."""

    scope_item = models.OneToOneField(ScopeItem, on_delete=models.CASCADE, related_name="tracked")
    # The release too, so that readiness loads a release's tracked items in one query.
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="tracked_items")
    source = models.ForeignKey(
        ScopeSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    external_id = models.CharField(max_length=100)
    status = models.CharField(max_length=100, blank=True)
    # None: the tracker did not say; counts as not done.
    done = models.BooleanField(null=True)
    tracker_title = models.CharField(max_length=200, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["release", "pk"]

    def __str__(self) -> str:
        return f"{self.scope_item} ({self.status or 'status unknown'})"


class CommitRange(models.Model):
    """The commits between the previous release's commit and this release's, as last read."""

    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="commit_range")
    integration = models.ForeignKey(
        Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    base_release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    base_sha = models.CharField(max_length=64, blank=True)
    head_sha = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=500, blank=True)
    commit_count = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"Commits of {self.release}"

    def problem(self, commit_sha: str) -> str:
        """Why the range says nothing about this commit yet; empty when it does."""
        if not commit_sha:
            return "the release names no commit, so its changes cannot be compared"
        if self.error:
            return f"the commits since the previous release could not be compared: {self.error}"
        if self.read_at is None:
            return "the commits since the previous release have not been compared yet"
        if self.head_sha != commit_sha:
            return (
                f"the commits were compared up to {self.head_sha[:10] or 'no commit'}, "
                "not up to this release's commit"
            )
        return ""


class RangeChange(models.Model):
    """A merged pull request with its commits, or a lone commit, of a commit range."""

    commit_range = models.ForeignKey(CommitRange, on_delete=models.CASCADE, related_name="changes")
    position = models.PositiveIntegerField(default=0)
    ref = models.CharField(max_length=40)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=500, blank=True)
    branch = models.CharField(max_length=255, blank=True)
    author = models.CharField(max_length=200, blank=True)
    shas = models.JSONField(default=list)
    keys = models.JSONField(default=list)
    text = models.TextField(blank=True)
    pull_request = models.BooleanField(default=False)
    # A scope change request asked for it; accepted, it makes the change part of the scope.
    change_request = models.ForeignKey(
        ScopeChangeRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "Accept as part of this release": Product and the release manager, two people.
    product_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product_accepted_at = models.DateTimeField(null=True, blank=True)
    manager_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    manager_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["commit_range", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def accepted(self) -> bool:
        return bool(self.product_accepted_at and self.manager_accepted_at)

    @property
    def requested(self) -> bool:
        return bool(
            self.change_request_id
            and self.change_request.state == ScopeChangeRequest.State.ACCEPTED
        )
