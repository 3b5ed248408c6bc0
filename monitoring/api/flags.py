"""REST API for the feature flags of a release's scope: list them with their state per
environment, name one for a scope item, read them now, switch one off, and bind a rollback
trigger whose action is switching a flag off. Same services, same rules as the release page."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from monitoring import serializers as monitoring_serializers
from monitoring.models import FLAG_KINDS, FeatureFlag, FlagSwitch, Integration, TriggerMode
from monitoring.services import flags
from releases.api.common import ReleaseScoped
from releases.models import ScopeItem

FLAGS = FeatureFlag.objects.select_related("scope_item", "integration")


class FlagSwitchSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlagSwitch
        fields = [
            "id",
            "environment",
            "reason",
            "requested_by",
            "state",
            "outcome",
            "created_at",
            "done_at",
        ]
        read_only_fields = fields


class FeatureFlagSerializer(serializers.ModelSerializer):
    scope_item: serializers.PrimaryKeyRelatedField[ScopeItem] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    scope_item_key = serializers.CharField(source="scope_item.key", read_only=True)
    integration: serializers.PrimaryKeyRelatedField[Integration] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    integration_name = serializers.CharField(source="integration.name", read_only=True)
    states = serializers.JSONField(
        read_only=True,
        help_text="Per environment, as last read: exists, on, percent (of traffic served the "
        "new behaviour), detail.",
    )

    class Meta:
        model = FeatureFlag
        fields = [
            "id",
            "key",
            "scope_item",
            "scope_item_key",
            "integration",
            "integration_name",
            "states",
            "read_at",
            "read_error",
            "created_at",
        ]
        read_only_fields = fields


class FlagInputSerializer(serializers.Serializer):
    scope_item = serializers.PrimaryKeyRelatedField(queryset=ScopeItem.objects.all())
    integration = serializers.PrimaryKeyRelatedField(queryset=Integration.objects.all())
    key = serializers.CharField(max_length=200)

    def validate_scope_item(self, item: ScopeItem) -> ScopeItem:
        if item.release_id != self.context["release"].pk:
            raise serializers.ValidationError("Choose a scope item of this release.")
        return item

    def validate_integration(self, integration: Integration) -> Integration:
        release = self.context["release"]
        if integration.project_id != release.project_id or integration.kind not in FLAG_KINDS:
            raise serializers.ValidationError(
                "Choose one of this project's feature-flag integrations."
            )
        return integration


class SwitchOffInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class FlagTriggerInputSerializer(serializers.Serializer):
    check = monitoring_serializers.ReleaseCheckField(help_text="A post-release check.")
    flag = serializers.PrimaryKeyRelatedField(queryset=FeatureFlag.objects.all())
    mode = serializers.ChoiceField(
        choices=TriggerMode.choices,
        help_text="recommend: the decider is asked and the page offers the switch; automatic: "
        "Greenlight switches the flag off at once.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate_flag(self, flag: FeatureFlag) -> FeatureFlag:
        if flag.scope_item.release_id != self.context["release"].pk:
            raise serializers.ValidationError("Choose a feature flag of this release's scope.")
        return flag


class ReleaseFlags(ReleaseScoped, generics.ListAPIView):
    """The flags the release's scope items ship behind, with their state per environment."""

    serializer_class = FeatureFlagSerializer
    queryset = FeatureFlag.objects.none()

    def get_queryset(self) -> QuerySet[FeatureFlag]:
        release, _ = self.release_and_access()
        return FLAGS.filter(scope_item__release=release).order_by("scope_item", "key", "pk")

    @extend_schema(request=FlagInputSerializer, responses={201: FeatureFlagSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Name a scope item's flag in one of the project's flag integrations."""
        release, _ = self.release_and_access()
        data = validated(FlagInputSerializer, request, context={"release": release})
        flag = flags.bind_flag(
            data["scope_item"], by=request.user, integration=data["integration"], key=data["key"]
        )
        return Response(FeatureFlagSerializer(flag).data, status=status.HTTP_201_CREATED)


class FlagScoped(ReleaseScoped):
    def flag(self) -> FeatureFlag:
        release, _ = self.release_and_access()
        return get_object_or_404(
            FLAGS.filter(scope_item__release=release), pk=self.kwargs["flag_id"]
        )


class ReleaseFlagDetail(FlagScoped):
    @extend_schema(responses=FeatureFlagSerializer)
    def get(self, request: Request, release_id: int, flag_id: int) -> Response:
        return Response(FeatureFlagSerializer(self.flag()).data)

    @extend_schema(responses={204: OpenApiResponse(description="No longer named.")})
    def delete(self, request: Request, release_id: int, flag_id: int) -> Response:
        flags.unbind_flag(self.flag(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SwitchFlagOff(FlagScoped):
    @extend_schema(request=SwitchOffInputSerializer, responses={202: FlagSwitchSerializer})
    def post(self, request: Request, release_id: int, flag_id: int) -> Response:
        """Switch the flag off in the integration's production environment; the answer is the
        switch, carried out within seconds (poll the flag for its state)."""
        data = validated(SwitchOffInputSerializer, request)
        switch = flags.turn_flag_off(self.flag(), by=request.user, reason=data.get("reason", ""))
        return Response(FlagSwitchSerializer(switch).data, status=status.HTTP_202_ACCEPTED)


class ReadFlags(ReleaseScoped):
    @extend_schema(request=None, responses={202: OpenApiResponse(description="Read soon.")})
    def post(self, request: Request, release_id: int) -> Response:
        release, _ = self.release_and_access()
        no_input(request)
        flags.request_flag_read(release, by=request.user)
        return Response({"detail": "The flags will be read within a few seconds."}, status=202)


class FlagTriggers(ReleaseScoped):
    @extend_schema(
        request=FlagTriggerInputSerializer,
        responses={201: monitoring_serializers.RollbackTriggerSerializer},
    )
    def post(self, request: Request, release_id: int) -> Response:
        """A rollback trigger whose action is switching one flag off (not a rollback)."""
        release, _ = self.release_and_access()
        data: dict[str, Any] = validated(
            FlagTriggerInputSerializer, request, context={"release": release}
        )
        trigger = flags.add_flag_trigger(
            release,
            by=request.user,
            check=data["check"],
            flag=data["flag"],
            mode=data["mode"],
            description=data.get("description", ""),
        )
        return Response(
            monitoring_serializers.RollbackTriggerSerializer(trigger).data,
            status=status.HTTP_201_CREATED,
        )


R = "releases/<int:release_id>/"
urlpatterns = [
    path(R + "flags/", ReleaseFlags.as_view(), name="api-release-flags"),
    path(R + "flags/read/", ReadFlags.as_view(), name="api-release-flags-read"),
    path(R + "flags/<int:flag_id>/", ReleaseFlagDetail.as_view(), name="api-release-flag"),
    path(R + "flags/<int:flag_id>/switch-off/", SwitchFlagOff.as_view(), name="api-flag-off"),
    path(R + "flag-triggers/", FlagTriggers.as_view(), name="api-flag-triggers"),
]
