"""The gate under ``/api/``: the answer for CI (a project token, or any member), and the
project's GitHub App and GitLab approvals settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gate import serializers as s
from gate.models import GitHubApp, GitLabApprovals
from gate.services import answer as gate
from gate.services import providers
from lib.rest.input import no_input, validated
from releases import access as rules
from releases.access import get_project_for
from releases.api.tokens import actor


class Gate(APIView):
    @extend_schema(request=s.GateQuestionSerializer, responses=s.GateAnswerSerializer)
    def post(self, request: Request, slug: str) -> Response:
        """May this commit deploy to this environment now? ``state`` is ``go``, ``wait`` (not
        yet: ask again) or ``no_go``; ``blockers`` says why, one reason each. The answer is
        logged on the release with who asked."""
        project = get_project_for(request.user, slug)
        data = validated(s.GateQuestionSerializer, request)
        answer = gate.ask(
            project, sha=data["sha"], environment=data["environment"], by=actor(request)
        )
        return Response(answer.as_dict())


def github_app_data(request: Any, app: GitHubApp) -> dict[str, Any]:
    path = reverse("gate_github_webhook", args=[app.pk])
    return {
        "app_id": app.app_id,
        "slug": app.slug,
        "api_url": app.api_url,
        "repository": app.repository,
        "webhook_url": settings.SITE_URL.rstrip("/") + path,
        "stored_secrets": sorted(app.stored_secret_names()),
    }


class GitHubAppView(APIView):
    @extend_schema(responses=s.GitHubAppSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """The project's GitHub App for deployment protection rules (credentials never shown)."""
        project = get_project_for(request.user, slug)
        app = get_object_or_404(GitHubApp, project=project)
        return Response(github_app_data(request, app))

    @extend_schema(request=s.GitHubAppSerializer, responses=s.GitHubAppSerializer)
    def put(self, request: Request, slug: str) -> Response:
        """Set up or change the App; credentials left empty stay as stored."""
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.GitHubAppSerializer, request)
        app = providers.save_github_app(project, by=request.user, **data)
        return Response(github_app_data(request, app))

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, slug: str) -> Response:
        """Stop answering GitHub's protection rules (the App's credentials are deleted)."""
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        no_input(request)
        providers.remove_github_app(project, by=request.user)
        return Response(status=204)


class GitLabApprovalsView(APIView):
    @extend_schema(responses=s.GitLabApprovalsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """Which GitLab integration approves the project's blocked deployments (null: none)."""
        project = get_project_for(request.user, slug)
        config = GitLabApprovals.objects.filter(project=project).first()
        return Response({"integration": config.integration_id if config else None})

    @extend_schema(request=s.GitLabApprovalsSerializer, responses=s.GitLabApprovalsSerializer)
    def put(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.GitLabApprovalsSerializer, request)
        integration = (
            project.integrations.filter(pk=data["integration"]).first()
            if data["integration"] is not None
            else None
        )
        if data["integration"] is not None and integration is None:
            return Response({"integration": ["No such integration in this project."]}, status=400)
        config = providers.set_gitlab_approvals(project, by=request.user, integration=integration)
        return Response({"integration": config.integration_id if config else None})
