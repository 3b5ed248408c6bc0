"""REST API for what goes through the readiness gate: the readiness itself, starting the deploy,
and assigning the roles whose sign-offs the gate counts."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.readiness import compute_readiness, with_readiness_data
from approvals.services import deploy
from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.api.common import ReleaseScoped, release_response
from releases.api.tokens import actor
from releases.models import Release, RoleAssignment
from releases.services.roles import unassign_role


class ReleaseReadiness(ReleaseScoped):
    release_queryset = with_readiness_data(Release.objects.all())

    @extend_schema(responses=s.ReadinessSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """Is it ready? The blockers, and where each required role stands."""
        release, _ = self.release_and_access()
        return Response({"release": release.pk, **compute_readiness(release).as_dict()})


class StartDeploy(ReleaseScoped):
    @extend_schema(request=s.StartDeploySerializer, responses=s.ReleaseSerializer)
    def post(self, request: Request, release_id: int) -> Response:
        """approved → deploying, on the planned day and outside freeze windows unless the
        release manager overrides with a reason."""
        release, access = self.release_and_access()
        rules.START_DEPLOY.check(access)
        data = validated(s.StartDeploySerializer, request)
        if data["override_reason"].strip():
            rules.OVERRIDE_DEPLOY_GUARDS.check(access)
        return release_response(
            deploy.start_deploy(release, by=actor(request), override_reason=data["override_reason"])
        )


class Assignments(ReleaseScoped, generics.ListAPIView):
    """Who holds which role on the release (sign-offs and checklists follow these)."""

    serializer_class = s.AssignmentSerializer
    queryset = RoleAssignment.objects.none()

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        release, _ = self.release_and_access()
        return release.assignments.select_related("user").order_by("role", "user__username")

    @extend_schema(request=s.AssignmentInputSerializer, responses={201: s.AssignmentSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.ASSIGN_ROLES.check(access)
        data = validated(s.AssignmentInputSerializer, request, context={"project": release.project})
        assignment = deploy.assign_role(release, data["user"], data["role"], by=actor(request))
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentDetail(ReleaseScoped):
    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, assignment_id: int) -> Response:
        release, access = self.release_and_access()
        assignment = get_object_or_404(release.assignments.select_related("user"), pk=assignment_id)
        rules.ASSIGN_ROLES.check(access)
        unassign_role(release, assignment.user, assignment.role, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
