"""The release domain: projects, releases, scope, roles, checklists, rollback plans, the event log.

Rules about one row live on its model (``Release.can_transition_to``, ``RollbackPlan.missing``);
operations that span rows live in ``releases.services``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

WEEK_MINUTES = 7 * 24 * 60

COMMIT_SHA_MESSAGE = "A commit SHA is 7 to 40 hexadecimal characters, e.g. 3f9c2ab."


def clean_commit_sha(value: str) -> str:
    """The SHA as stored (lower-case, no blanks around it); a malformed one raises."""
    sha = (value or "").strip().lower()
    if sha and not (7 <= len(sha) <= 40 and all(c in "0123456789abcdef" for c in sha)):
        raise ValidationError(COMMIT_SHA_MESSAGE, code="invalid")
    return sha


def validate_commit_sha(value: str) -> None:
    """Field validator (forms, the API): the form of a SHA; the services store it lower-case."""
    clean_commit_sha(value)


def validate_time_zone(value: str) -> None:

    try:
        ZoneInfo(value)
    except Exception as exc:
        raise ValidationError(f"Unknown time zone {value!r}.", code="invalid") from exc


class Role(models.TextChoices):
    DEV = "dev", "Developer"
    QA = "qa", "QA"
    DEVOPS = "devops", "DevOps"
    PRODUCT = "product", "Product"
    RELEASE_MANAGER = "release_manager", "Release manager"
    VIEWER = "viewer", "Viewer"


# Roles that give a go/no-go; a viewer reads only.
SIGNING_ROLES = (Role.DEV, Role.QA, Role.DEVOPS, Role.PRODUCT, Role.RELEASE_MANAGER)


class ReleaseKind(models.TextChoices):
    STANDARD = "standard", "Standard"
    HOTFIX = "hotfix", "Hotfix"
    MAJOR = "major", "Major"


class Status(models.TextChoices):
    PLANNING = "planning", "Planning"
    FROZEN = "frozen", "Scope frozen"
    APPROVED = "approved", "Approved"
    DEPLOYING = "deploying", "Deploying"
    MONITORING = "monitoring", "Monitoring"
    RELEASED = "released", "Released"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"


# The lifecycle (DESIGN.md). Each edge is one service function in releases.services.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PLANNING: frozenset({Status.FROZEN, Status.CANCELLED}),
    Status.FROZEN: frozenset({Status.APPROVED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.DEPLOYING, Status.FROZEN, Status.CANCELLED}),
    # deploying → approved when CI cancels the deploy is ``cancel_deploy``'s own edge: the
    # approval it goes back to is not a new one, so the go decision never takes that path.
    Status.DEPLOYING: frozenset({Status.MONITORING, Status.ROLLED_BACK}),
    Status.MONITORING: frozenset({Status.RELEASED, Status.ROLLED_BACK}),
    Status.RELEASED: frozenset(),
    Status.ROLLED_BACK: frozenset(),
    Status.CANCELLED: frozenset(),
}
ACTIVE_STATUSES = (
    Status.PLANNING,
    Status.FROZEN,
    Status.APPROVED,
    Status.DEPLOYING,
    Status.MONITORING,
)
FINISHED_STATUSES = (Status.RELEASED, Status.ROLLED_BACK, Status.CANCELLED)
# A release in production, or that was: incidents can be laid at its door.
DEPLOYED_STATUSES = (Status.DEPLOYING, Status.MONITORING, Status.RELEASED, Status.ROLLED_BACK)


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not watched yet"
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Project(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    repository_url = models.URLField(blank=True)
    # How long a release stays in monitoring after the deploy, per kind.
    # A window longer than a week is not a monitoring window but an open-ended one.
    monitoring_minutes_standard = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(1), MaxValueValidator(WEEK_MINUTES)]
    )
    monitoring_minutes_hotfix = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(WEEK_MINUTES)]
    )
    monitoring_minutes_major = models.PositiveIntegerField(
        default=240, validators=[MinValueValidator(1), MaxValueValidator(WEEK_MINUTES)]
    )
    slack_webhook_url = models.URLField(
        blank=True, help_text="Slack-compatible incoming webhook for release notifications."
    )
    # CI's environment names (lower case) → the release environment they deploy to; "" when
    # a deploy there is never a release's (a docs site, a preview). A name not listed stands
    # for itself.
    deploy_environments = models.JSONField(default=dict, blank=True)
    time_zone = models.CharField(
        max_length=60,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Where the team works: deploy windows are shown and enforced in it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_settings", args=[self.slug])

    def environment_for(self, ci_environment: str) -> str:
        """The release environment a deploy to CI's ``ci_environment`` lands in ("" for none)."""
        name = ci_environment.strip().lower()
        return str(self.deploy_environments.get(name, name)).strip().lower()

    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.time_zone)

    def monitoring_window(self, kind: str) -> dt.timedelta:
        minutes: dict[str, int] = {
            ReleaseKind.STANDARD: self.monitoring_minutes_standard,
            ReleaseKind.HOTFIX: self.monitoring_minutes_hotfix,
            ReleaseKind.MAJOR: self.monitoring_minutes_major,
        }
        return dt.timedelta(minutes=minutes[kind])


class ProjectMembership(models.Model):
    """A person's standing role on a project; release role assignments default from these."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user", "role"], name="unique_membership_role"
            )
        ]
        ordering = ["project", "role", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} on {self.project}"


class FreezeWindow(models.Model):
    """A blackout: no deploy starts inside it without an audited override.

    One-off windows use ``starts_at``/``ends_at``. Weekly windows repeat from
    ``start_weekday start_time`` to ``end_weekday end_time`` in ``timezone`` (e.g. Friday 15:00
    to Monday 08:00, Europe/Berlin).
    """

    class Recurrence(models.TextChoices):
        ONCE = "once", "One-off"
        WEEKLY = "weekly", "Every week"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="freeze_windows")
    reason = models.CharField(max_length=200)
    recurrence = models.CharField(
        max_length=10, choices=Recurrence.choices, default=Recurrence.ONCE
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    start_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, null=True, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    end_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=60, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "starts_at", "start_weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurrence="weekly")
                | Q(
                    starts_at__isnull=False,
                    ends_at__isnull=False,
                    ends_at__gt=models.F("starts_at"),
                ),
                name="freeze_once_has_range",
            ),
            models.CheckConstraint(
                condition=Q(recurrence="once")
                | Q(
                    start_weekday__isnull=False,
                    start_time__isnull=False,
                    end_weekday__isnull=False,
                    end_time__isnull=False,
                ),
                name="freeze_weekly_has_days",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.describe()})"

    def clean(self) -> None:
        if self.recurrence == self.Recurrence.ONCE:
            if not (self.starts_at and self.ends_at):
                raise ValidationError("A one-off freeze window needs a start and an end.")
            if self.ends_at <= self.starts_at:
                raise ValidationError({"ends_at": "The end must be after the start."})
        else:
            missing = [
                name
                for name in ("start_weekday", "start_time", "end_weekday", "end_time")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValidationError(dict.fromkeys(missing, "Required for a weekly window."))
            if (self.start_weekday, self.start_time) == (self.end_weekday, self.end_time):
                # It would close when it opens, i.e. never: a freeze that lasts all week.
                raise ValidationError({"end_time": "The window must end at another moment."})
        try:
            self.zone()
        except Exception as exc:
            raise ValidationError({"timezone": f"Unknown time zone {self.timezone!r}."}) from exc

    def zone(self) -> dt.tzinfo:

        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        if self.recurrence == self.Recurrence.ONCE:
            return f"{self.starts_at:%Y-%m-%d %H:%M} – {self.ends_at:%Y-%m-%d %H:%M} UTC"
        return (
            f"every {self.get_start_weekday_display()} {self.start_time:%H:%M} – "
            f"{self.get_end_weekday_display()} {self.end_time:%H:%M} {self.timezone}"
        )

    def occurrences(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """Every (start, end) of this window that overlaps [start, end), in UTC."""
        if self.recurrence == self.Recurrence.ONCE:
            # The constraints above: a one-off window has both ends, a weekly one its days.
            assert self.starts_at is not None
            assert self.ends_at is not None
            if self.starts_at < end and self.ends_at > start:
                return [(self.starts_at, self.ends_at)]
            return []
        assert self.start_weekday is not None
        assert self.start_time is not None
        assert self.end_weekday is not None
        assert self.end_time is not None
        zone = self.zone()
        found = []
        # Walk weeks from a week before ``start`` so a window that began earlier is caught.
        local_start = start.astimezone(zone)
        monday = (local_start - dt.timedelta(days=local_start.weekday() + 7)).date()
        while True:
            begin_day = monday + dt.timedelta(days=self.start_weekday)
            opens = dt.datetime.combine(begin_day, self.start_time, tzinfo=zone)
            span_days = (self.end_weekday - self.start_weekday) % 7
            closes = dt.datetime.combine(
                begin_day + dt.timedelta(days=span_days), self.end_time, tzinfo=zone
            )
            if closes <= opens:
                closes += dt.timedelta(days=7)
            if opens >= end:
                break
            if closes > start:
                found.append((opens.astimezone(dt.UTC), closes.astimezone(dt.UTC)))
            monday += dt.timedelta(days=7)
        return found

    def covers(self, moment: dt.datetime) -> bool:
        return bool(self.occurrences(moment, moment + dt.timedelta(microseconds=1)))


class ReleaseQuerySet(models.QuerySet["Release"]):
    def active(self) -> ReleaseQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)


# A milestone done within this of its planned moment is on time: a deploy started three minutes
# into its window is not late.
ON_TIME_WITHIN = dt.timedelta(minutes=5)


def is_late(planned: dt.datetime | None, actual: dt.datetime | None) -> bool:
    """The one rule for "late", on the release page and the timeline alike."""
    return bool(planned and actual and actual > planned + ON_TIME_WITHIN)


def rollback_still_recommended(status: str, recommended_at: dt.datetime | None) -> bool:
    """``Release.rollback_recommended`` from the two columns it rests on, for code that reads
    releases as plain values."""
    return recommended_at is not None and status in (Status.DEPLOYING, Status.MONITORING)


def listed_on() -> Coalesce:
    """The day a release is listed under: its deploy, else its planned window, else its
    creation. One expression for the releases page's order and the index that serves it."""
    return Coalesce("deploy_started_at", "deploy_window_start", "created_at")


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=60)
    title = models.CharField(max_length=200, blank=True)
    kind = models.CharField(
        max_length=10, choices=ReleaseKind.choices, default=ReleaseKind.STANDARD
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PLANNING, db_index=True
    )
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    git_ref = models.CharField(
        max_length=200, blank=True, help_text="Branch or tag, e.g. release/2.4"
    )
    commit_sha = models.CharField(max_length=64, blank=True, validators=[validate_commit_sha])
    environment = models.CharField(max_length=60, default="production")

    # The plan.
    code_freeze_at = models.DateTimeField(null=True, blank=True)
    go_no_go_at = models.DateTimeField(null=True, blank=True)
    deploy_window_start = models.DateTimeField(null=True, blank=True)
    deploy_window_end = models.DateTimeField(null=True, blank=True)
    monitoring_ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Planned end of the post-release monitoring window."
    )

    # What happened.
    frozen_at = models.DateTimeField(null=True, blank=True)
    poll_opened_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    deploy_started_at = models.DateTimeField(null=True, blank=True)
    deploy_finished_at = models.DateTimeField(null=True, blank=True)
    # The last deploy that was cancelled before it finished (the release went back to approved).
    deploy_cancelled_at = models.DateTimeField(null=True, blank=True)
    monitoring_until = models.DateTimeField(
        null=True, blank=True, help_text="Actual end of the monitoring window, set at deploy done."
    )
    released_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # A go decision taken over blockers stays visible on the release for good.
    override_used = models.BooleanField(default=False)
    unhealthy_since = models.DateTimeField(null=True, blank=True)
    unhealthy_reason = models.CharField(max_length=300, blank=True)
    # A rollback trigger in "recommend" mode fired: the page offers the rollback in one click
    # while the release is still deploying or monitoring. Kept afterwards for the review.
    rollback_recommended_at = models.DateTimeField(null=True, blank=True)
    rollback_recommendation = models.CharField(max_length=300, blank=True)

    # The rollback, if there was one: who called it, why, and when it was done.
    rollback_reason = models.TextField(blank=True)
    rollback_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rollback_automatic = models.BooleanField(default=False)
    rollback_finished_at = models.DateTimeField(null=True, blank=True)
    # The release this one's scope was carried into after a rollback.
    carried_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="carried_from"
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="unique_release_version")
        ]
        indexes = [
            models.Index(fields=["status", "deploy_window_start"]),
            # Lists show the newest first: a page of 20 reads 20 index entries instead of
            # sorting every visible release (docs/performance.md, "API").
            models.Index(fields=["-created_at", "-id"], name="release_newest_first"),
            # The releases page: newest listed first, 25 index entries instead of a sort of
            # every visible release (docs/performance.md, "Pages").
            models.Index(listed_on().desc(), F("id").desc(), name="release_listed_newest_first"),
        ]

    def __str__(self) -> str:
        return f"{self.project.name} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("release_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def has_been_deployed(self) -> bool:
        return self.status in DEPLOYED_STATUSES and self.deploy_started_at is not None

    @property
    def scope_locked(self) -> bool:
        return self.status != Status.PLANNING

    @property
    def rollback_recommended(self) -> bool:
        """A trigger recommends rolling back and the release can still be rolled back."""
        return rollback_still_recommended(self.status, self.rollback_recommended_at)

    def can_transition_to(self, status: str) -> bool:
        return status in TRANSITIONS[self.status]

    @property
    def planned_monitoring_end(self) -> dt.datetime | None:
        """When monitoring is planned to end, wherever it is shown: the plan's date, and once the
        deploy is done the health window's own end, so that the page, the timeline, the
        calendar and the health window give the same moment."""
        return self.monitoring_until or self.monitoring_ends_at

    def milestones(self) -> list[tuple[str, dt.datetime | None, dt.datetime | None]]:
        """(label, planned, actual) in lifecycle order, for the page and the timeline."""
        return [
            ("Code freeze", self.code_freeze_at, self.frozen_at),
            ("Go/no-go", self.go_no_go_at, self.approved_at),
            ("Deploy window", self.deploy_window_start, self.deploy_started_at),
            ("Deploy done", self.deploy_window_end, self.deploy_finished_at),
            ("End of monitoring", self.planned_monitoring_end, self.released_at),
        ]

    def next_milestone(self, now: dt.datetime | None = None) -> tuple[str, dt.datetime] | None:
        now = now or timezone.now()
        for label, planned, actual in self.milestones():
            if planned and not actual:
                return label, planned
        return None


class ReleaseTrain(models.Model):
    """Recurring releases on a cadence, e.g. every second Tuesday at 14:00 Europe/Berlin.

    Slots fall every ``cadence_weeks`` weeks from ``first_deploy_date``; a beat task creates each
    slot's release ``create_days_ahead`` days before its deploy day, with the project's templates.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trains")
    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=10, choices=ReleaseKind.choices, default=ReleaseKind.STANDARD
    )
    cadence_weeks = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    first_deploy_date = models.DateField()
    deploy_time = models.TimeField(default=dt.time(14, 0))
    deploy_duration_minutes = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    timezone = models.CharField(max_length=60, default="UTC")
    code_freeze_days_before = models.PositiveSmallIntegerField(
        default=2, validators=[MaxValueValidator(60)]
    )
    go_no_go_hours_before = models.PositiveSmallIntegerField(
        default=4, validators=[MaxValueValidator(30 * 24)]
    )
    create_days_ahead = models.PositiveSmallIntegerField(
        default=14, validators=[MaxValueValidator(180)]
    )
    freeze_reminder_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MaxValueValidator(30 * 24)],
        help_text="Remind the people on the release this long before the code freeze.",
    )
    version_template = models.CharField(
        max_length=60,
        default="{date:%Y.%m.%d}",
        help_text="Python format string; {date} is the deploy day, {n} the slot number.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_train_name"),
            models.CheckConstraint(
                condition=Q(cadence_weeks__gte=1, cadence_weeks__lte=12),
                name="train_cadence_in_range",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.name} (every {self.cadence_weeks} week{'s' if self.cadence_weeks > 1 else ''})"
        )

    def zone(self) -> dt.tzinfo:

        return ZoneInfo(self.timezone)

    def slot_number(self, day: dt.date) -> int:
        return (day - self.first_deploy_date).days // (7 * self.cadence_weeks) + 1

    def slot_dates(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Deploy days of this train in [start, end]."""
        step = dt.timedelta(weeks=self.cadence_weeks)
        day = self.first_deploy_date
        if start > day:
            try:
                day += step * -(-((start - day).days) // step.days)
            except OverflowError:
                return []  # the first slot from ``start`` on is past the last day a date holds
        days = []
        # ``end`` may be the last day a date can hold: stop before stepping past it.
        last = min(end, dt.date.max - step)
        while day <= last:
            days.append(day)
            day += step
        if day <= end:
            days.append(day)
        return days

    def deploy_at(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.deploy_time, tzinfo=self.zone()).astimezone(dt.UTC)

    def version_for(self, day: dt.date) -> str:
        return self.version_template.format(date=day, n=self.slot_number(day))


class TrainSlot(models.Model):
    """One deploy day of a train; the unique key makes a double beat tick create one release."""

    train = models.ForeignKey(ReleaseTrain, on_delete=models.CASCADE, related_name="slots")
    deploy_date = models.DateField()
    release = models.OneToOneField(
        "Release", on_delete=models.SET_NULL, null=True, blank=True, related_name="train_slot"
    )
    skipped_at = models.DateTimeField(null=True, blank=True)
    skipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    skip_reason = models.CharField(max_length=300, blank=True)
    problem = models.CharField(
        max_length=300, blank=True, help_text="Why the release could not be created."
    )
    freeze_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["train", "deploy_date"]
        constraints = [
            models.UniqueConstraint(fields=["train", "deploy_date"], name="one_slot_per_train_day")
        ]

    def __str__(self) -> str:
        return f"{self.train.name} {self.deploy_date}"


class ScopeItem(models.Model):
    class Kind(models.TextChoices):
        FEATURE = "feature", "Feature"
        FIX = "fix", "Fix"
        DEPENDENCY = "dependency", "Dependency"
        RISK = "risk", "Known risk"
        LIMITATION = "limitation", "Limitation"

    class Risk(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        BLOCKER = "blocker", "Blocker"

    class State(models.TextChoices):
        INCLUDED = "included", "Included"
        DEFERRED = "deferred", "Deferred"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="scope_items")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FEATURE)
    title = models.CharField(max_length=200)
    key = models.CharField(max_length=40, blank=True, help_text="Tracker key, e.g. PAY-142")
    url = models.URLField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_scope_items",
    )
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)
    state = models.CharField(max_length=10, choices=State.choices, default=State.INCLUDED)
    # A blocker-level risk stops the release until someone records how it was resolved.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    added_after_freeze = models.BooleanField(default=False)
    # When the change was merged (reported by CI); lead time for changes starts here.
    merged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.key} {self.title}".strip()

    @property
    def is_open_blocker(self) -> bool:
        return (
            self.state == self.State.INCLUDED
            and self.risk == self.Risk.BLOCKER
            and self.resolved_at is None
        )


class ScopeChangeRequest(models.Model):
    """A change to locked scope: accepted by Product and the release manager, or rejected."""

    class Action(models.TextChoices):
        ADD = "add", "Add an item"
        REMOVE = "remove", "Remove (defer) an item"
        CHANGE_RISK = "change_risk", "Change an item's risk"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="change_requests")
    action = models.CharField(max_length=12, choices=Action.choices)
    scope_item = models.ForeignKey(
        ScopeItem, on_delete=models.CASCADE, null=True, blank=True, related_name="change_requests"
    )
    # What the request proposes: for "add" the new item's fields, for "change_risk" the risk.
    proposal = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    product_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product_approved_at = models.DateTimeField(null=True, blank=True)
    manager_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    manager_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.describe()}"

    def describe(self) -> str:
        if self.action == self.Action.ADD:
            return self.proposal.get("title", "")
        item = str(self.scope_item) if self.scope_item_id else "(deleted item)"
        if self.action == self.Action.CHANGE_RISK:
            return f"{item} → {self.proposal.get('risk', '?')} risk"
        return item


class RoleAssignment(models.Model):
    """Who holds which role on one release; defaults from the project's members."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="release_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["release", "user", "role"], name="unique_release_assignment"
            )
        ]
        ordering = ["role", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} on {self.release}"


class Phase(models.TextChoices):
    READINESS = "readiness", "Readiness"
    DEPLOYMENT = "deployment", "Deployment"
    POST_RELEASE = "post_release", "Post-release"


class Evidence(models.TextChoices):
    """What a checklist item must be ticked with."""

    NONE = "none", "Nothing required"
    NOTE = "note", "A note"
    LINK = "link", "A link"
    BOTH = "both", "A note and a link"


class EvidenceRequirement(models.Model):
    """The evidence an item is ticked with; a release's item keeps the requirement it was
    planned with, whatever its template says later."""

    evidence_required = models.CharField(
        "Evidence required",
        max_length=4,
        choices=Evidence.choices,
        default=Evidence.NONE,
        help_text="What ticking the item needs: a note on what was checked, a link to the "
        "proof (a test report, a dashboard…), or both.",
    )

    class Meta:
        abstract = True

    @property
    def needs_note(self) -> bool:
        return self.evidence_required in (Evidence.NOTE, Evidence.BOTH)

    @property
    def needs_link(self) -> bool:
        return self.evidence_required in (Evidence.LINK, Evidence.BOTH)

    @property
    def evidence_hint(self) -> str:
        """How a page states the requirement before anyone ticks: "needs a note and a link"."""
        needed = [
            name
            for name, needed in (("a note", self.needs_note), ("a link", self.needs_link))
            if needed
        ]
        return f"needs {' and '.join(needed)}" if needed else ""


class ChecklistTemplate(EvidenceRequirement):
    """One item of a project's checklist, copied onto new releases of the kinds it applies to."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="checklist_templates"
    )
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.READINESS)
    title = models.CharField(max_length=200)
    help_text = models.TextField(blank=True)
    owner_role = models.CharField(max_length=20, choices=Role.choices)
    required = models.BooleanField(default=True)
    for_standard = models.BooleanField(default=True)
    for_hotfix = models.BooleanField(default=True)
    for_major = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["project", "phase", "position", "pk"]

    def __str__(self) -> str:
        return self.title

    def applies_to(self, kind: str) -> bool:
        return getattr(self, f"for_{kind}")


class ChecklistItem(EvidenceRequirement):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="checklist_items")
    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.READINESS)
    title = models.CharField(max_length=200)
    help_text = models.TextField(blank=True)
    owner_role = models.CharField(max_length=20, choices=Role.choices)
    required = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticked_at = models.DateTimeField(null=True, blank=True)
    evidence_note = models.TextField(blank=True)
    evidence_url = models.URLField(blank=True)

    class Meta:
        ordering = ["phase", "position", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_ticked(self) -> bool:
        return self.ticked_at is not None


class RollbackPlan(models.Model):
    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="rollback_plan")
    revert_steps = models.TextField(blank=True, help_text="How to revert, step by step.")
    decider = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who makes the rollback call.",
    )
    triggers = models.TextField(blank=True, help_text="What conditions trigger a rollback.")
    data_considerations = models.TextField(
        blank=True, help_text="What happens to user data and in-flight work."
    )
    rehearsed_at = models.DateTimeField(null=True, blank=True)
    rollback_webhook_url = models.URLField(
        blank=True, help_text="Called (signed) when Greenlight starts a rollback automatically."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Rollback plan for {self.release}"

    def missing(self, kind: str) -> list[str]:
        """What the plan still lacks; empty when it is complete."""
        gaps = []
        if not self.revert_steps.strip():
            gaps.append("how to revert")
        if self.decider_id is None:
            gaps.append("who makes the call")
        if not self.triggers.strip():
            gaps.append("what triggers a rollback")
        if not self.data_considerations.strip():
            gaps.append("what happens to data and in-flight work")
        # A major release is rehearsed before it ships.
        if kind == ReleaseKind.MAJOR and self.rehearsed_at is None:
            gaps.append("a rehearsal (required for a major release)")
        return gaps


class ReleaseEventQuerySet(models.QuerySet["ReleaseEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Release events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Release events are append-only.")


class ReleaseEvent(models.Model):
    """Append-only log of everything that happened to a release: the timeline and the audit trail.

    Written only through ``releases.events.log_event`` inside the transaction of the change.
    """

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who acted when it was not a person: "CI token deploy-bot", "poller", "system".
    actor_label = models.CharField(max_length=120, blank=True)
    verb = models.CharField(max_length=40, db_index=True)
    summary = models.CharField(max_length=500)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ReleaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["release", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.verb}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Release events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Release events are append-only.")

    @property
    def actor_name(self) -> str:
        if self.actor is not None:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.actor_label or "system"


class ProjectEventKind(models.TextChoices):
    """What a project event is about: the filter on the project's audit page and API."""

    PROJECT = "project", "Project settings"
    MEMBERSHIP = "membership", "Members and roles"
    APPROVAL_POLICY = "approval_policy", "Approval policy"
    FREEZE_WINDOW = "freeze_window", "Freeze window"
    CHECKLIST_TEMPLATE = "checklist_template", "Checklist template"
    INTEGRATION = "integration", "Integration"
    CHECK_TEMPLATE = "check_template", "Check template"
    PROJECT_TOKEN = "project_token", "Project token"
    PERSONAL_TOKEN = "personal_token", "Personal token"
    TRAIN = "train", "Release train"
    ROLLBACK_SETTINGS = "rollback_settings", "Rollback settings"
    CALENDAR_FEED = "calendar_feed", "Calendar feed"
    WEBHOOK_SUBSCRIPTION = "webhook_subscription", "Outgoing webhook"


class ProjectEventQuerySet(models.QuerySet["ProjectEvent"]):
    def by_actor(self, actor: str) -> ProjectEventQuerySet:
        """Events by the person with this username, or by the machine with this label."""
        return self.filter(Q(actor__username=actor) | Q(actor__isnull=True, actor_label=actor))

    def actors(self) -> list[str]:
        """Everyone who changed something here, as ``by_actor`` takes them, in one query."""
        names = {
            username or label or "system"
            for username, label in self.order_by().values_list("actor__username", "actor_label")
        }
        return sorted(names, key=str.lower)

    def update(self, **kwargs: Any) -> int:
        raise TypeError("Project events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Project events are append-only.")


class ProjectEvent(models.Model):
    """Append-only log of changes to a project itself: settings, members, approval policy,
    freeze windows, templates, integrations, tokens, trains. Who, what, before and after, when.

    The release log (``ReleaseEvent``) stays as it is; this is its twin one floor up. A change
    to a person's own access (a personal token) has no project. Written only through
    ``releases.events.log_project_event`` inside the transaction of the change; credentials never
    appear in ``before`` or ``after``, only that they changed.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The person's username (kept if the account goes), or who acted when it was not a person:
    # "CI token deploy-bot", "system".
    actor_label = models.CharField(max_length=120, blank=True)
    # No ``choices`` here: a kind added later needs no migration (``ProjectEventKind`` names
    # the known ones for people).
    kind = models.CharField(max_length=40)
    action = models.CharField(max_length=40)
    summary = models.CharField(max_length=500)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProjectEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"]),
            models.Index(fields=["project", "kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.action}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Project events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Project events are append-only.")

    @property
    def actor_name(self) -> str:
        if self.actor is not None:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.actor_label or "system"

    @property
    def kind_label(self) -> str:
        try:
            return ProjectEventKind(self.kind).label
        except ValueError:
            return self.kind.replace("_", " ").capitalize()

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for each field the event records, in a stable order."""
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        names = list(before) + [name for name in after if name not in before]
        return [(name, before.get(name), after.get(name)) for name in names]


# A few pages each: room for a real retrospective, not for a pasted log.
REVIEW_TEXT_MAX = 5000


class Review(models.Model):
    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="review")
    went_well = models.CharField(max_length=REVIEW_TEXT_MAX, blank=True)
    went_badly = models.CharField(
        max_length=REVIEW_TEXT_MAX, blank=True, help_text="What broke or nearly did."
    )
    caused_stress = models.CharField(max_length=REVIEW_TEXT_MAX, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Review of {self.release}"


class ReviewAction(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return self.description


class Severity(models.TextChoices):
    """How bad an incident is, in the SEV levels most on-call teams and incident tools use."""

    SEV1 = "sev1", "SEV1 · critical"
    SEV2 = "sev2", "SEV2 · major"
    SEV3 = "sev3", "SEV3 · minor"
    SEV4 = "sev4", "SEV4 · low"


class IncidentSource(models.TextChoices):
    MANUAL = "manual", "Recorded by hand"
    API = "api", "Reported through the API"
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "Opsgenie"


# What a machine may say it reports from (a person's record is "manual").
REPORTED_SOURCES = [
    (source.value, source.label)
    for source in (IncidentSource.API, IncidentSource.PAGERDUTY, IncidentSource.OPSGENIE)
]


class Incident(models.Model):
    """Something that went wrong in production because of a release: from when it started to
    when service was restored. Counted in the change failure rate and the time to restore.

    A report from an incident tool carries the tool's own id: the same id from the same source
    in one project is the same incident, so a re-sent report changes it instead of adding one.
    """

    # The project is the release's; it is kept here so one project's external ids are unique.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="incidents")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    link = models.URLField(max_length=500, blank=True)
    source = models.CharField(
        max_length=10, choices=IncidentSource.choices, default=IncidentSource.MANUAL
    )
    external_id = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who reported it when it was not a person ("CI token pager-relay").
    created_by_label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "external_id"],
                condition=~Q(external_id=""),
                name="incident_external_id_once_per_source",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("started_at")),
                name="incident_resolved_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display().split(' ')[0]} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def time_to_restore(self) -> dt.timedelta | None:
        return self.resolved_at - self.started_at if self.resolved_at else None

    @property
    def reported_by(self) -> str:
        if self.created_by is not None:
            return self.created_by.get_full_name() or self.created_by.get_username()
        return self.created_by_label or "system"


class Notification(models.Model):
    """An in-app notification; email and chat copies are sent by tasks after commit."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    verb = models.CharField(max_length=40)
    message = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Claimed by the email task before it sends, so a task that runs twice mails once.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message


class CalendarFeed(models.Model):
    """A project's calendar at a secret address that calendar apps subscribe to without signing
    in. Rotating gives it a new secret; revoking deletes it, and the old address answers 404."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="calendar_feed")
    secret = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Calendar of {self.project}"

    def get_absolute_url(self) -> str:
        return reverse("calendar_feed", args=[self.secret])


class ApiToken(models.Model):
    """A bearer token for the API: personal (acts as its user) or project (CI, one project).

    Only a SHA-256 of the secret is stored; the secret is shown once, at creation.
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        PROJECT = "project", "Project"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=12, db_index=True)
    hashed_secret = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="personal", user__isnull=False, project__isnull=True)
                | Q(kind="project", project__isnull=False, user__isnull=True),
                name="token_owner_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
