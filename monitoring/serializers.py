"""API shapes for integrations (credentials write-only), checks, results, judgement and rollback
triggers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lib.links import validate_link
from monitoring.models import (
    Check,
    CheckResult,
    CheckStatus,
    Comparator,
    FeatureFlag,
    Integration,
    IntegrationKind,
    RollbackTrigger,
    TriggerMode,
)
from monitoring.services.checks import CHECK_FIELDS
from monitoring.services.health import describe_condition
from releases.serializers import person

# Generous for any provider's settings, small enough that nobody stores a file in them.
MAX_ENTRIES = 50
MAX_NAME = 100
MAX_VALUE = 4000


class StringMapField(serializers.DictField):
    """A JSON object of names to text: integration settings, credentials, check parameters."""

    child = serializers.CharField(allow_blank=True, max_length=MAX_VALUE)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value = super().to_internal_value(data)
        if len(value) > MAX_ENTRIES:
            raise serializers.ValidationError(f"At most {MAX_ENTRIES} entries.")
        for key in value:
            # PostgreSQL's jsonb cannot hold NUL, in names or values.
            if not key.strip() or len(key) > MAX_NAME or "\x00" in key:
                raise serializers.ValidationError(f"Names are 1 to {MAX_NAME} characters of text.")
        return value


class IntegrationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class ProjectIntegrationField(serializers.PrimaryKeyRelatedField):
    """One of ``context["project"]``'s integrations, by id."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Integration.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        integrations = super().get_queryset()
        assert integrations is not None  # set in __init__
        return integrations.filter(project=self.context.get("project"))


class IntegrationSerializer(serializers.ModelSerializer):
    stored_secrets = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "config",
            "enabled",
            "stored_secrets",
            "last_success_at",
            "last_error_at",
            "last_error",
            "consecutive_failures",
            "circuit_state",
            "circuit_opened_at",
            "backoff_until",
            "created_at",
        ]
        read_only_fields = fields

    def get_stored_secrets(self, integration: Integration) -> list[str]:
        """Which credentials are set — never their values."""
        return sorted(integration.stored_secret_names())


class IntegrationInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    base_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    config = StringMapField(required=False)
    secrets = StringMapField(
        required=False,
        write_only=True,
        help_text="Credentials to set. Write-only: never returned; an empty value keeps the "
        "stored one.",
    )
    clear_secrets = serializers.ListField(
        child=serializers.CharField(max_length=MAX_NAME),
        required=False,
        max_length=MAX_ENTRIES,
        help_text="Names of stored credentials to remove.",
    )
    enabled = serializers.BooleanField(required=False)


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    summary = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)


# What a person sets on a check: the fields the check services take.
CHECK_SETTINGS = list(CHECK_FIELDS)


class CheckInputSerializer(serializers.ModelSerializer):
    integration = ProjectIntegrationField()
    params = StringMapField(required=False, help_text="What to read: workflow, query, JQL…")

    class Meta:
        model = Check
        fields = CHECK_SETTINGS


class CheckTemplateSerializer(serializers.ModelSerializer):
    """A project's check, copied onto each new release."""

    integration = IntegrationSummarySerializer(read_only=True)
    comparator = serializers.ChoiceField(
        choices=Comparator.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Check
        fields = ["id", *CHECK_SETTINGS]
        read_only_fields = fields


class CheckSerializer(serializers.ModelSerializer):
    integration = IntegrationSummarySerializer(read_only=True)
    comparator = serializers.ChoiceField(
        choices=Comparator.choices, allow_blank=True, read_only=True
    )
    counts_as_passing = serializers.SerializerMethodField()

    class Meta:
        model = Check
        fields = [
            "id",
            *CHECK_SETTINGS,
            "status",
            "counts_as_passing",
            "last_value",
            "last_detail",
            "last_url",
            "observed_sha",
            "last_evaluated_at",
            "last_changed_at",
            "passing_since",
        ]
        read_only_fields = fields

    def get_counts_as_passing(self, check: Check) -> bool:
        """Passing on the release's current commit, held long enough: what readiness counts."""
        assert check.release is not None  # a release's check, not a project template
        return check.counts_as_passing(commit_sha=check.release.commit_sha)


class CheckResultSerializer(serializers.ModelSerializer):
    judged_by = person()

    class Meta:
        model = CheckResult
        fields = [
            "id",
            "status",
            "value",
            "numeric",
            "detail",
            "url",
            "sha",
            "source",
            "judged_by",
            "observed_at",
        ]
        read_only_fields = fields


class CheckResultInputSerializer(serializers.Serializer):
    """What a CI job or monitor observed."""

    status = serializers.ChoiceField(
        choices=CheckStatus.choices,
        help_text="Only passing counts toward readiness; anything else keeps the release "
        "blocked (fail closed).",
    )
    value = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="e.g. success"
    )
    numeric = serializers.FloatField(required=False, allow_null=True, default=None)
    detail = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_link],
        help_text="The CI run (http or https).",
    )
    sha = serializers.RegexField(
        r"^[0-9a-fA-F]{7,64}$",
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The commit observed; defaults to the release's commit for pre-release checks.",
    )


class JudgementSerializer(serializers.Serializer):
    passed = serializers.BooleanField(help_text="true resolves to passing, false to failing.")
    reason = serializers.CharField(max_length=2000)


# --- rollback triggers --------------------------------------------------------------------------


class ReleaseCheckField(serializers.PrimaryKeyRelatedField):
    """One of ``context["release"]``'s checks, by id; anything else is "not found"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Check.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        release = self.context.get("release")
        return Check.objects.none() if release is None else release.checks.all()


class RollbackTriggerSerializer(serializers.ModelSerializer):
    check: serializers.PrimaryKeyRelatedField[Check] = serializers.PrimaryKeyRelatedField(
        source="check_ref", read_only=True
    )
    check_name = serializers.CharField(source="check_ref.name", read_only=True)
    condition = serializers.SerializerMethodField()
    flag: serializers.PrimaryKeyRelatedField[FeatureFlag] = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The feature flag it switches off instead of rolling back (null: it rolls "
        "the release back).",
    )
    created_by = person()

    class Meta:
        model = RollbackTrigger
        fields = [
            "id",
            "check",
            "check_name",
            "condition",
            "flag",
            "mode",
            "description",
            "fired_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_condition(self, trigger: RollbackTrigger) -> str:
        """When it breaches, from the check's own settings ("Error rate ≥ 0.02 for 5 min")."""
        return describe_condition(trigger.check_ref)


class RollbackTriggerInputSerializer(serializers.Serializer):
    check = ReleaseCheckField(help_text="A post-release check of this release.")
    mode = serializers.ChoiceField(
        choices=TriggerMode.choices,
        help_text="recommend: the rollback decider is asked and the release page offers the "
        "rollback; automatic: Greenlight rolls back and calls the rollback plan's webhook.",
    )
    description = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="In words; defaults to the check's condition.",
    )


class RollbackTriggerChangeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=TriggerMode.choices, required=False)
    description = serializers.CharField(max_length=200, required=False)
