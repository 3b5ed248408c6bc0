"""Rolling back, finishing the rollback, carrying scope forward, the rollback plan."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped, release_response
from releases.api.tokens import actor
from releases.models import (
    Release,
    RollbackPlan,
)
from releases.services.rollback import (
    carry_scope_forward,
    finish_rollback,
    roll_back,
    update_rollback_plan,
)


class RollBack(ReleaseScoped):
    @extend_schema(request=s.ReasonSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.ROLL_BACK.check(access)
        data = validated(s.ReasonSerializer, request)
        return release_response(roll_back(release, by=actor(request), reason=data["reason"]))


class FinishRollback(ReleaseScoped):
    @extend_schema(request=s.FinishRollbackSerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """The rollback is done; time to restore is measured to this moment."""
        release, access = self.release_and_access()
        rules.FINISH_ROLLBACK.check(access)
        data = validated(s.FinishRollbackSerializer, request)
        return release_response(finish_rollback(release, by=actor(request), at=data.get("at")))


class CarryForward(ReleaseScoped):
    @extend_schema(request=s.CarryForwardSerializer, responses={201: s.ReleaseSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Start a new release with the rolled-back one's included scope."""
        release, access = self.release_and_access()
        rules.CARRY_FORWARD.check(access)
        data = validated(s.CarryForwardSerializer, request)
        new = carry_scope_forward(release, by=actor(request), **data)
        return release_response(new, status.HTTP_201_CREATED)


class RollbackPlanView(ReleaseScoped):
    def plan_response(self, release: Release) -> Response:
        plan = get_object_or_404(
            RollbackPlan.objects.select_related("decider", "release"), release=release
        )
        return Response(s.RollbackPlanSerializer(plan).data)

    @extend_schema(responses=s.RollbackPlanSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        release, _ = self.release_and_access()
        return self.plan_response(release)

    @extend_schema(request=s.RollbackPlanSerializer, responses=s.RollbackPlanSerializer)
    def patch(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.EDIT_ROLLBACK_PLAN.check(access)
        data = validated(
            s.RollbackPlanSerializer, request, partial=True, context={"project": release.project}
        )
        update_rollback_plan(release, by=actor(request), **data)
        return self.plan_response(release)
