"""REST API for the health window: the rollback triggers bound to a release's post-release
checks, releasing a healthy release and restoring health."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import no_input, validated
from monitoring import serializers as s
from monitoring.models import RollbackTrigger
from monitoring.services import health
from releases import access as rules
from releases import serializers as release_serializers
from releases.access import ReleaseAccess
from releases.api.common import ReleaseScoped, release_response
from releases.api.tokens import actor

TRIGGERS = RollbackTrigger.objects.select_related("check_ref", "created_by", "release__project")


class RollbackTriggers(ReleaseScoped, generics.ListAPIView):
    """The rollback plan's triggers: each watches one post-release check and, when it breaches
    (failing for its hold time), recommends the rollback to the decider or starts it."""

    serializer_class = s.RollbackTriggerSerializer
    queryset = RollbackTrigger.objects.none()

    def get_queryset(self) -> QuerySet[RollbackTrigger]:
        release, _ = self.release_and_access()
        return TRIGGERS.filter(release=release)

    @extend_schema(
        request=s.RollbackTriggerInputSerializer, responses={201: s.RollbackTriggerSerializer}
    )
    def post(self, request: Request, release_id: int) -> Response:
        """Bind a trigger to a post-release check (one per check). ``automatic`` needs the
        rollback plan's webhook URL."""
        release, access = self.release_and_access()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(s.RollbackTriggerInputSerializer, request, context={"release": release})
        trigger = health.add_rollback_trigger(
            release,
            by=request.user,
            check=data["check"],
            mode=data["mode"],
            description=data.get("description", ""),
        )
        return Response(
            s.RollbackTriggerSerializer(TRIGGERS.get(pk=trigger.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class RollbackTriggerDetail(ReleaseScoped):
    def trigger(self) -> tuple[ReleaseAccess, RollbackTrigger]:
        release, access = self.release_and_access()
        trigger = get_object_or_404(TRIGGERS.filter(release=release), pk=self.kwargs["trigger_id"])
        return access, trigger

    @extend_schema(responses=s.RollbackTriggerSerializer)
    def get(self, request: Request, release_id: int, trigger_id: int) -> Response:
        _, trigger = self.trigger()
        return Response(s.RollbackTriggerSerializer(trigger).data)

    @extend_schema(request=s.RollbackTriggerChangeSerializer, responses=s.RollbackTriggerSerializer)
    def patch(self, request: Request, release_id: int, trigger_id: int) -> Response:
        """Change the mode or the description; the check stays (remove and add for another)."""
        access, trigger = self.trigger()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(s.RollbackTriggerChangeSerializer, request, partial=True)
        trigger = health.update_rollback_trigger(trigger, by=request.user, **data)
        return Response(s.RollbackTriggerSerializer(TRIGGERS.get(pk=trigger.pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, trigger_id: int) -> Response:
        access, trigger = self.trigger()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        health.remove_rollback_trigger(trigger, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the end of the health window -----------------------------------------------------------


class CompleteRelease(ReleaseScoped):
    @extend_schema(request=None, responses=release_serializers.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """monitoring → released, failing closed: only once the monitoring window is over,
        the release is not unhealthy and every required post-release check counts as passing
        (pending, error and needs-judgement do not). Otherwise 409, with each reason in
        ``blockers``."""
        release, access = self.release_and_access()
        rules.COMPLETE.check(access)
        no_input(request)
        return release_response(health.release_if_healthy(release, by=actor(request)))


class RestoreHealth(ReleaseScoped):
    @extend_schema(
        request=release_serializers.ReasonSerializer,
        responses=release_serializers.ReleaseSerializer,
    )
    def post(self, request: Request, release_id: int) -> Response:
        """Judge an unhealthy release healthy again, with a reason, while it is deploying or
        monitoring; refused (409) while a check that decides is still failing. A standing
        rollback recommendation lapses."""
        release, access = self.release_and_access()
        rules.RESTORE_HEALTH.check(access)
        data = validated(release_serializers.ReasonSerializer, request)
        return release_response(
            health.restore_health(release, by=request.user, reason=data["reason"])
        )
