"""REST API for a project's approval policy."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import serializers as s
from approvals.models import ApprovalPolicy
from approvals.services.policy import ensure_policy, update_policy
from lib.rest.input import validated
from releases import access as rules
from releases.access import get_project_for
from releases.api.tokens import actor


class ApprovalPolicyView(APIView):
    def policy_response(self, policy: ApprovalPolicy) -> Response:
        policy = ApprovalPolicy.objects.prefetch_related("requirements").get(pk=policy.pk)
        return Response(s.ApprovalPolicySerializer(policy).data)

    @extend_schema(responses=s.ApprovalPolicySerializer)
    def get(self, request: Request, slug: str) -> Response:
        """Required roles and quorums per release kind, separation of duties, expiry."""
        project = get_project_for(request.user, slug)
        return self.policy_response(ensure_policy(project))

    @extend_schema(request=s.ApprovalPolicySerializer, responses=s.ApprovalPolicySerializer)
    def patch(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data: dict[str, Any] = dict(validated(s.ApprovalPolicySerializer, request, partial=True))
        requirements = data.pop("requirements", [])
        # One change from the caller's point of view: all of it or none of it.
        policy = update_policy(project, by=actor(request), requirements=requirements, **data)
        return self.policy_response(policy)
