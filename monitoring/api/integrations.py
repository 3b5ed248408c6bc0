"""REST API for a project's integrations. Credentials are write-only: they go in through
``secrets`` and only their names come back.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import no_input, validated
from monitoring import serializers as s
from monitoring.models import Integration
from monitoring.services.integrations import delete_integration, save_integration, test_connection
from releases import access as rules
from releases.access import get_project_for
from releases.models import Project


class Integrations(generics.ListAPIView):
    """The project's connections to CI, monitoring and the issue tracker, with their health."""

    serializer_class = s.IntegrationSerializer
    queryset = Integration.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Integration]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project.integrations.order_by("name", "pk")

    @extend_schema(request=s.IntegrationInputSerializer, responses={201: s.IntegrationSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.IntegrationInputSerializer, request)
        integration = save_integration(
            project,
            by=request.user,
            name=data["name"],
            kind=data["kind"],
            base_url=data.get("base_url", ""),
            config=data.get("config"),
            secrets=data.get("secrets"),
            clear_secrets=data.get("clear_secrets", ()),
            enabled=data.get("enabled", True),
        )
        return Response(s.IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationScoped(APIView):
    def integration(self) -> tuple[Project, Integration]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project, get_object_or_404(project.integrations, pk=self.kwargs["integration_id"])


class IntegrationDetail(IntegrationScoped):
    @extend_schema(responses=s.IntegrationSerializer)
    def get(self, request: Request, slug: str, integration_id: int) -> Response:
        _, integration = self.integration()
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(request=s.IntegrationInputSerializer, responses=s.IntegrationSerializer)
    def patch(self, request: Request, slug: str, integration_id: int) -> Response:
        """Change settings; credentials left out (or empty) stay as stored."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.IntegrationInputSerializer, request, partial=True)
        integration = save_integration(
            project,
            by=request.user,
            integration=integration,
            name=data.get("name", integration.name),
            kind=data.get("kind", integration.kind),
            base_url=data.get("base_url", integration.base_url),
            config=data.get("config", integration.config),
            secrets=data.get("secrets"),
            clear_secrets=data.get("clear_secrets", ()),
            enabled=data.get("enabled", integration.enabled),
        )
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, integration_id: int) -> Response:
        """Delete an integration no release's checks read (otherwise disable it)."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        delete_integration(integration, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TestIntegration(IntegrationScoped):
    @extend_schema(request=None, responses=s.ConnectionTestSerializer)
    def post(self, request: Request, slug: str, integration_id: int) -> Response:
        """Call the provider once the way the poller would and say what came back."""
        project, integration = self.integration()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        no_input(request)
        result = test_connection(integration, by=request.user)
        return Response(
            {"ok": result.ok, "summary": result.summary, "detail": result.detail, "url": result.url}
        )
