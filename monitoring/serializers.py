"""API shapes for checks, their results and manual judgement."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.models import Check, CheckResult, CheckStatus, Integration


class IntegrationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class CheckSerializer(serializers.ModelSerializer):
    integration = IntegrationSummarySerializer(read_only=True)
    counts_as_passing = serializers.SerializerMethodField()

    class Meta:
        model = Check
        fields = [
            "id",
            "name",
            "integration",
            "phase",
            "required",
            "params",
            "comparator",
            "threshold",
            "stabilisation_seconds",
            "interval_seconds",
            "hold_seconds",
            "timeout_seconds",
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
        return check.counts_as_passing(commit_sha=check.release.commit_sha)


class CheckResultSerializer(serializers.ModelSerializer):
    judged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
        max_length=500, required=False, allow_blank=True, default="", help_text="The CI run."
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
