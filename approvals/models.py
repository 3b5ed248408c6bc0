"""Sign-offs, the go/no-go decision and the approval policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from releases.models import Project, Release, ReleaseKind, Role

# What each kind of release needs by default (DESIGN.md: the kind decides the ceremony).
DEFAULT_REQUIRED_ROLES: dict[str, dict[str, int]] = {
    ReleaseKind.STANDARD: {Role.DEV: 1, Role.QA: 1, Role.DEVOPS: 1, Role.PRODUCT: 1},
    ReleaseKind.HOTFIX: {Role.DEV: 1, Role.DEVOPS: 1},
    ReleaseKind.MAJOR: {
        Role.DEV: 1,
        Role.QA: 2,
        Role.DEVOPS: 1,
        Role.PRODUCT: 1,
        Role.RELEASE_MANAGER: 1,
    },
}


class OverrideBy(models.TextChoices):
    """Who may take a Go or a deploy over one kind of blocker (break glass, with a reason)."""

    NOBODY = "nobody", "Nobody"
    RELEASE_MANAGERS = "release_managers", "Release managers (and administrators)"
    ADMINISTRATORS = "administrators", "Administrators only"


class Overridable(models.TextChoices):
    """The kinds of blocker an override is granted for, each with its own policy setting."""

    NO_GO = "no_go", "a standing No-go"
    SIGN_OFFS = "sign_offs", "missing or stale sign-offs"
    CHECKS = "checks", "checks that are not passing"
    FREEZE = "freeze", "a freeze window"
    DEPLOY_WINDOW = "deploy_window", "the deploy window"
    # Checklist, rollback plan, open risks, waiting scope changes: the release manager's call.
    READINESS = "readiness", "the rest of the readiness list"


# The refusal sentences of the approval rules, beside the predicates below.
CREATOR_SIGNS = (
    "You created this release, so you cannot sign it off: the project's approval policy wants "
    "someone other than the release's creator to approve it."
)
SIGNER_DECIDES = (
    "You signed off on this release, so you cannot also record its go/no-go: the project's "
    "approval policy wants the decision taken by someone who did not sign."
)
SELF_ASSIGNMENT = (
    "You cannot make yourself {role} on a release you created: the project's approval policy "
    "wants its approvers to be someone other than its creator. Ask another release manager."
)


class ApprovalPolicy(models.Model):
    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="approval_policy"
    )
    separation_of_duties = models.BooleanField(
        default=True, help_text="One person gives at most one role's sign-off on a release."
    )
    creator_cannot_sign_off = models.BooleanField(
        default=True, help_text="The person who created a release does not sign it off."
    )
    signer_cannot_decide = models.BooleanField(
        default=True, help_text="Whoever signed off on a release does not record its go/no-go."
    )
    no_self_assignment = models.BooleanField(
        default=True,
        help_text="Nobody makes themselves a required approver of a release they created.",
    )
    require_commit_before_poll = models.BooleanField(
        default=True, help_text="The go/no-go poll opens only once the release names its commit."
    )
    override_no_go = models.CharField(
        max_length=20, choices=OverrideBy.choices, default=OverrideBy.NOBODY
    )
    override_sign_offs = models.CharField(
        max_length=20, choices=OverrideBy.choices, default=OverrideBy.ADMINISTRATORS
    )
    override_checks = models.CharField(
        max_length=20, choices=OverrideBy.choices, default=OverrideBy.RELEASE_MANAGERS
    )
    override_freeze = models.CharField(
        max_length=20, choices=OverrideBy.choices, default=OverrideBy.RELEASE_MANAGERS
    )
    override_deploy_window = models.CharField(
        max_length=20, choices=OverrideBy.choices, default=OverrideBy.RELEASE_MANAGERS
    )
    sign_off_expiry_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A sign-off older than this no longer counts.",
    )
    decider_role = models.CharField(
        max_length=20, choices=Role.choices, default=Role.RELEASE_MANAGER
    )
    reminder_hours_before = models.PositiveIntegerField(
        default=24,
        validators=[MaxValueValidator(30 * 24)],
        help_text="Remind people with a pending sign-off this long before go/no-go.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"Approval policy of {self.project}"

    def required_roles(self, kind: str) -> dict[str, int]:
        """role → quorum for a kind (a policy starts with DEFAULT_REQUIRED_ROLES as rows)."""
        return {r.role: r.quorum for r in self.requirements.all() if r.release_kind == kind}

    def expiry(self) -> dt.timedelta | None:
        if self.sign_off_expiry_days is None:
            return None
        return dt.timedelta(days=self.sign_off_expiry_days)

    # Who may approve. Each predicate says whether the person may; the sentence above says why
    # not. The services enforce them; pages and the API only translate the refusal.

    def creator_may_sign(self, release: Release, user: Any) -> bool:
        return not (self.creator_cannot_sign_off and release.created_by_id == user.pk)

    def second_role_refusal(self, user: Any, role: str, current: Iterable[Any]) -> str:
        """Why this person may not sign for ``role`` too (separation of duties), or "".

        ``current`` is the release's current sign-offs.
        """
        if not self.separation_of_duties:
            return ""
        other = next((s for s in current if s.user_id == user.pk and s.role != role), None)
        if other is None:
            return ""
        return (
            f"You already signed as {other.get_role_display()}; one person gives at most "
            "one role's sign-off on a release."
        )

    def signer_may_decide(self, user: Any, signer_ids: set[int]) -> bool:
        return not (self.signer_cannot_decide and user.pk in signer_ids)

    def may_assign_self(self, release: Release, *, by: Any, user: Any, required: bool) -> bool:
        """Making yourself a required approver of your own release approves your own work."""
        return not (
            self.no_self_assignment
            and required
            and getattr(by, "pk", None) == user.pk
            and release.created_by_id == user.pk
        )

    def self_assignment_refusal(self, role_label: str) -> str:
        return SELF_ASSIGNMENT.format(role=role_label)

    def relaxed_rules(self) -> list[str]:
        """The approval rules this project switched off, as shown on every release."""
        relaxed = []
        if not self.creator_cannot_sign_off:
            relaxed.append("the release's creator may sign it off")
        if not self.signer_cannot_decide:
            relaxed.append("someone who signed off may record the go/no-go")
        if not self.separation_of_duties:
            relaxed.append("one person may sign off for several roles")
        if not self.no_self_assignment:
            relaxed.append("the creator may make themselves an approver")
        return relaxed

    # Overrides.

    def override_by(self, category: str) -> str:
        if category == Overridable.READINESS:
            return OverrideBy.RELEASE_MANAGERS
        return getattr(self, f"override_{category}")

    def may_override(self, category: str, *, is_admin: bool, is_release_manager: bool) -> bool:
        who = self.override_by(category)
        if who == OverrideBy.NOBODY:
            return False
        if who == OverrideBy.ADMINISTRATORS:
            return is_admin
        return is_admin or is_release_manager

    def override_refusal(
        self, categories: list[str], *, is_admin: bool, is_release_manager: bool
    ) -> tuple[str, bool] | None:
        """Why this person cannot override these blockers, and whether anyone could; or None."""
        for category in categories:
            if self.override_by(category) == OverrideBy.NOBODY:
                label = Overridable(category).label
                return f"The project's approval policy lets nobody override {label}.", False
        for category in categories:
            if not self.may_override(
                category, is_admin=is_admin, is_release_manager=is_release_manager
            ):
                label = Overridable(category).label
                admins = self.override_by(category) == OverrideBy.ADMINISTRATORS
                who = "an administrator" if admins else "a release manager"
                return f"Only {who} can override {label} (the project's approval policy).", True
        return None


class RoleRequirement(models.Model):
    policy = models.ForeignKey(
        ApprovalPolicy, on_delete=models.CASCADE, related_name="requirements"
    )
    release_kind = models.CharField(max_length=10, choices=ReleaseKind.choices)
    role = models.CharField(max_length=20, choices=Role.choices)
    quorum = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )

    class Meta:
        ordering = ["release_kind", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "release_kind", "role"], name="unique_role_requirement"
            ),
            models.CheckConstraint(condition=Q(quorum__gte=1), name="quorum_at_least_one"),
            models.CheckConstraint(condition=~Q(role="viewer"), name="viewer_never_signs"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} ×{self.quorum} on {self.get_release_kind_display()}"


class SignOffQuerySet(models.QuerySet["SignOff"]):
    def current(self) -> SignOffQuerySet:
        return self.filter(is_current=True)


class SignOff(models.Model):
    """One person's go or no-go for one role on a release.

    Signing again supersedes the earlier row (kept as history): exactly one current row per
    (release, user, role), enforced by a partial unique constraint. A sign-off becomes stale
    when what it approved changes; it then stays current (so the person sees it) but no longer
    counts.
    """

    class Decision(models.TextChoices):
        GO = "go", "Go"
        NO_GO = "no_go", "No-go"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="sign_offs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_offs"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    decision = models.CharField(max_length=6, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    is_current = models.BooleanField(default=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    stale_at = models.DateTimeField(null=True, blank=True)
    stale_reason = models.CharField(max_length=300, blank=True)

    objects = SignOffQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "user", "role"],
                condition=Q(is_current=True),
                name="one_current_sign_off_per_user_role",
            ),
            models.CheckConstraint(
                condition=Q(decision="go") | ~Q(comment=""), name="no_go_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["release", "is_current"])]

    def __str__(self) -> str:
        return f"{self.user} {self.get_decision_display()} as {self.get_role_display()}"

    def is_stale(
        self, *, expiry: dt.timedelta | None = None, now: dt.datetime | None = None
    ) -> bool:
        if self.stale_at is not None:
            return True
        if expiry is not None:
            return (now or timezone.now()) - self.created_at > expiry
        return False


class DecisionQuerySet(models.QuerySet["Decision"]):
    def update(self, **kwargs: Any) -> int:
        if "snapshot" in kwargs:
            raise TypeError("A decision's snapshot is frozen once recorded.")
        return super().update(**kwargs)


class Decision(models.Model):
    """The recorded go/no-go outcome and a frozen snapshot of the evidence it rested on."""

    class Outcome(models.TextChoices):
        GO = "go", "Go"
        NO_GO = "no_go", "No-go"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=6, choices=Outcome.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True, help_text="Reasons for a no-go; anything worth keeping.")
    overridden = models.BooleanField(default=False)
    override_reason = models.TextField(blank=True)
    # Readiness, sign-offs, checklist, checks and scope exactly as they were; never rewritten.
    snapshot = models.JSONField(default=dict)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(overridden=False) | ~Q(override_reason=""),
                name="override_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on {self.release} at {self.decided_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and "snapshot" in (kwargs.get("update_fields") or ["snapshot"]):
            raise TypeError("A decision's snapshot is frozen once recorded.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("decision_detail", args=[self.pk])


class Reminder(models.Model):
    """A sign-off reminder or an escalation that was sent, so the beat task never resends it.

    Keyed on the go/no-go time it was for: when the release manager moves the go/no-go, the
    reminders for the new time fall due again.
    """

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder to sign off"
        ESCALATION = "escalation", "Escalation to the release manager"

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="sign_off_reminders"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    go_no_go_at = models.DateTimeField()
    # The roles that were still missing, e.g. ["qa", "product"].
    roles = models.JSONField(default=list)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "user", "kind", "go_no_go_at"], name="one_reminder_per_due_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.user} on {self.release}"
