"""API shapes for sign-offs, decisions (with their frozen snapshots) and the approval policy."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from approvals.models import ApprovalPolicy, Decision, RoleRequirement, SignOff
from releases.models import SIGNING_ROLES, Release, ReleaseKind
from releases.serializers import BlockerSerializer, ReadinessSerializer, person

SIGNING_ROLE_CHOICES = [(role.value, role.label) for role in SIGNING_ROLES]
# Ten years: longer than any release lives, well inside what date arithmetic can hold.
MAX_EXPIRY_DAYS = 3650
MAX_REMINDER_HOURS = 24 * 366
MAX_QUORUM = 50


class SignOffSerializer(serializers.ModelSerializer):
    user = person(nullable=False)
    is_stale = serializers.SerializerMethodField()

    class Meta:
        model = SignOff
        fields = [
            "id",
            "user",
            "role",
            "decision",
            "comment",
            "created_at",
            "is_current",
            "is_stale",
            "stale_at",
            "stale_reason",
            "superseded_at",
            "withdrawn_at",
        ]
        read_only_fields = fields

    def get_is_stale(self, sign_off: SignOff) -> bool:
        """Marked stale because what it approved changed (expiry is shown by readiness)."""
        return sign_off.stale_at is not None


class SignOffInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=SIGNING_ROLE_CHOICES)
    decision = serializers.ChoiceField(choices=SignOff.Decision.choices)
    comment = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional on Go; the reason, required, on No-go.",
    )


class WithdrawSignOffSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=SIGNING_ROLE_CHOICES)


class DecisionSerializer(serializers.ModelSerializer):
    release: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    decided_by = person()

    class Meta:
        model = Decision
        fields = [
            "id",
            "release",
            "outcome",
            "decided_by",
            "decided_at",
            "notes",
            "overridden",
            "override_reason",
        ]
        read_only_fields = fields


class SnapshotReleaseSerializer(serializers.Serializer):
    project = serializers.CharField()
    version = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    git_ref = serializers.CharField(allow_blank=True)
    commit_sha = serializers.CharField(allow_blank=True)
    environment = serializers.CharField(allow_blank=True)


class SnapshotSignOffSerializer(serializers.Serializer):
    user = serializers.CharField()
    role = serializers.CharField()
    decision = serializers.CharField()
    comment = serializers.CharField(allow_blank=True)
    given_at = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField()
    stale_reason = serializers.CharField(allow_blank=True)


class SnapshotChecklistSerializer(serializers.Serializer):
    title = serializers.CharField()
    phase = serializers.CharField()
    owner_role = serializers.CharField()
    # A declared field leaves the class when it is built; the stub still sees Field.required.
    required = serializers.BooleanField()  # type: ignore[assignment]
    ticked = serializers.BooleanField()
    ticked_by = serializers.CharField(allow_null=True)
    ticked_at = serializers.DateTimeField(allow_null=True)
    evidence_note = serializers.CharField(allow_blank=True)
    evidence_url = serializers.CharField(allow_blank=True)


class SnapshotCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    phase = serializers.CharField()
    # A declared field leaves the class when it is built; the stub still sees Field.required.
    required = serializers.BooleanField()  # type: ignore[assignment]
    status = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)
    observed_sha = serializers.CharField(allow_blank=True)
    evaluated_at = serializers.DateTimeField(allow_null=True)


class SnapshotScopeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    key = serializers.CharField(allow_blank=True)
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    risk = serializers.CharField()
    state = serializers.CharField()
    added_after_freeze = serializers.BooleanField()


class SnapshotOverrideSerializer(serializers.Serializer):
    reason = serializers.CharField()
    by = serializers.CharField()
    blockers = BlockerSerializer(many=True)
    categories = serializers.ListField(
        child=serializers.CharField(),
        help_text="The approval policy settings the override needed (no_go, sign_offs, …).",
    )


class SnapshotReadinessSerializer(ReadinessSerializer):
    # The snapshot's readiness is nested in it: no id of its own. None removes an inherited
    # field (DRF), which the stub does not know.
    release = None  # type: ignore[assignment]


class SnapshotSerializer(serializers.Serializer):
    """The evidence exactly as it was when the decision was recorded; never rewritten."""

    taken_at = serializers.DateTimeField()
    override = SnapshotOverrideSerializer(
        allow_null=True, required=False, help_text="Who broke glass over what, and why."
    )
    relaxed_rules = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Approval rules the project had switched off when the decision was taken.",
    )
    release = SnapshotReleaseSerializer()
    readiness = SnapshotReadinessSerializer()
    sign_offs = SnapshotSignOffSerializer(many=True)
    checklist = SnapshotChecklistSerializer(many=True)
    checks = SnapshotCheckSerializer(many=True)
    scope = SnapshotScopeSerializer(many=True)


class DecisionDetailSerializer(DecisionSerializer):
    snapshot = SnapshotSerializer(read_only=True)

    class Meta(DecisionSerializer.Meta):
        fields = [*DecisionSerializer.Meta.fields, "snapshot"]
        read_only_fields = fields


class DecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    notes = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for a No-go: the reasons.",
    )
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A Go on a release that is not ready needs this; it is flagged for good.",
    )


class RoleRequirementSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=SIGNING_ROLE_CHOICES)
    release_kind = serializers.ChoiceField(choices=ReleaseKind.choices)
    quorum = serializers.IntegerField(
        min_value=0, max_value=MAX_QUORUM, help_text="Go sign-offs needed; 0 removes the role."
    )

    class Meta:
        model = RoleRequirement
        fields = ["release_kind", "role", "quorum"]
        validators: list = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A partial update of the policy makes DRF skip missing fields of nested rows too, but a
        # requirement is one whole row: each of its fields is needed every time.
        missing = {
            name: "This field is required." for name in self.Meta.fields if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ApprovalPolicySerializer(serializers.ModelSerializer):
    decider_role = serializers.ChoiceField(choices=SIGNING_ROLE_CHOICES, required=False)
    sign_off_expiry_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        required=False,
        allow_null=True,
        help_text="A sign-off older than this stops counting; null: never.",
    )
    reminder_hours_before = serializers.IntegerField(
        min_value=0, max_value=MAX_REMINDER_HOURS, required=False
    )
    requirements = RoleRequirementSerializer(
        many=True,
        required=False,
        help_text="On update: the roles to set, each replacing that kind and role's quorum.",
    )

    class Meta:
        model = ApprovalPolicy
        fields = [
            "separation_of_duties",
            "creator_cannot_sign_off",
            "signer_cannot_decide",
            "no_self_assignment",
            "require_commit_before_poll",
            "sign_off_expiry_days",
            "decider_role",
            "reminder_hours_before",
            "override_no_go",
            "override_sign_offs",
            "override_checks",
            "override_freeze",
            "override_deploy_window",
            "requirements",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
