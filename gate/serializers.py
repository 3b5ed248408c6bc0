"""Input and output of the gate's API."""

from __future__ import annotations

from rest_framework import serializers


class GateQuestionSerializer(serializers.Serializer):
    sha = serializers.CharField(max_length=40)
    environment = serializers.CharField(max_length=100)


class GateAnswerSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    state = serializers.ChoiceField(choices=["go", "wait", "no_go"])
    sha = serializers.CharField()
    environment = serializers.CharField()
    release = serializers.IntegerField(allow_null=True)
    release_name = serializers.CharField()
    blockers = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField()


class GitHubAppSerializer(serializers.Serializer):
    app_id = serializers.CharField(max_length=100)
    slug = serializers.CharField(max_length=100, required=False, allow_blank=True)
    api_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    repository = serializers.CharField(max_length=200, required=False, allow_blank=True)
    private_key = serializers.CharField(
        required=False, allow_blank=True, write_only=True, trim_whitespace=False
    )
    webhook_secret = serializers.CharField(
        max_length=200, required=False, allow_blank=True, write_only=True
    )
    # Read only: where GitHub sends the App's webhook, and which credentials are stored.
    webhook_url = serializers.CharField(read_only=True)
    stored_secrets = serializers.ListField(child=serializers.CharField(), read_only=True)


class GitLabApprovalsSerializer(serializers.Serializer):
    integration = serializers.IntegerField(allow_null=True)
