"""API shapes for outgoing webhooks: the secret is returned only when it is made or replaced."""

from __future__ import annotations

from rest_framework import serializers

from subscriptions.models import Delivery, Event, Subscription


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices))

    class Meta:
        model = Subscription
        fields = ["id", "name", "target_url", "events", "active", "created_at", "updated_at"]
        read_only_fields = fields


class SubscriptionInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    target_url = serializers.CharField(
        max_length=500,
        help_text="Where each event is POSTed; an address the egress policy refuses is a 400.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices),
        allow_empty=False,
        max_length=len(Event.values),
        help_text="The events to send: " + ", ".join(f"`{e}`" for e in Event.values) + ".",
    )
    active = serializers.BooleanField(required=False, help_text="False pauses the webhook.")


class CreatedSubscriptionSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret: returned this once, never again."
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)


class DeliverySerializer(serializers.ModelSerializer):
    release = serializers.IntegerField(source="release_id", read_only=True, allow_null=True)
    redelivery_of = serializers.IntegerField(
        source="redelivery_of_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "guid",
            "event",
            "release",
            "state",
            "attempts",
            "response_status",
            "duration_ms",
            "response_excerpt",
            "error",
            "attempt_log",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "redelivery_of",
        ]
        read_only_fields = fields
