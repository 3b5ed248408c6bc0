"""REST API for checks: a project's check templates and a release's own checks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.input import validated
from monitoring import serializers as s
from monitoring.models import Check
from monitoring.services.checks import (
    delete_check_template,
    delete_release_check,
    save_check_template,
    save_release_check,
)
from releases import access as rules
from releases.access import ReleaseAccess, get_project_for
from releases.api.common import ReleaseScoped
from releases.models import Project

# --- project check templates ----------------------------------------------------------------

TEMPLATES = Check.objects.filter(release__isnull=True).select_related("integration")


class CheckTemplates(generics.ListAPIView):
    """The project's checks, copied onto every release created afterwards."""

    serializer_class = s.CheckTemplateSerializer
    queryset = Check.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Check]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return TEMPLATES.filter(project=project)

    @extend_schema(request=s.CheckInputSerializer, responses={201: s.CheckTemplateSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(s.CheckInputSerializer, request, context={"project": project})
        check = save_check_template(project, by=request.user, **data)
        return Response(
            s.CheckTemplateSerializer(TEMPLATES.get(pk=check.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CheckTemplateDetail(APIView):
    def template(self) -> tuple[Project, Check]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        check = get_object_or_404(TEMPLATES.filter(project=project), pk=self.kwargs["check_id"])
        return project, check

    @extend_schema(responses=s.CheckTemplateSerializer)
    def get(self, request: Request, slug: str, check_id: int) -> Response:
        _, check = self.template()
        return Response(s.CheckTemplateSerializer(check).data)

    @extend_schema(request=s.CheckInputSerializer, responses=s.CheckTemplateSerializer)
    def patch(self, request: Request, slug: str, check_id: int) -> Response:
        """Releases created later get the change; existing releases keep their copies."""
        project, check = self.template()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        data = validated(
            s.CheckInputSerializer, request, partial=True, context={"project": project}
        )
        check = save_check_template(project, by=request.user, check=check, **data)
        return Response(s.CheckTemplateSerializer(TEMPLATES.get(pk=check.pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, check_id: int) -> Response:
        project, check = self.template()
        rules.CONFIGURE_MONITORING.check(request.user, project)
        delete_check_template(check, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- a release's checks ---------------------------------------------------------------------


class Checks(ReleaseScoped, generics.ListAPIView):
    """The release's checks (gates) with their current status."""

    serializer_class = s.CheckSerializer
    queryset = Check.objects.none()

    def get_queryset(self) -> QuerySet[Check]:
        release, _ = self.release_and_access()
        return release.checks.select_related("integration", "release")

    @extend_schema(request=s.CheckInputSerializer, responses={201: s.CheckSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        """Add a check (gate) to the release; it is read from now on."""
        release, access = self.release_and_access()
        rules.EDIT_CHECKS.check(access)
        data = validated(s.CheckInputSerializer, request, context={"project": release.project})
        check = save_release_check(release, by=request.user, **data)
        check = Check.objects.select_related("integration", "release").get(pk=check.pk)
        return Response(s.CheckSerializer(check).data, status=status.HTTP_201_CREATED)


class CheckScoped(ReleaseScoped):
    def check_for(self) -> tuple[ReleaseAccess, Check]:
        release, access = self.release_and_access()
        check = get_object_or_404(
            Check.objects.filter(release=release).select_related("integration", "release"),
            pk=self.kwargs["check_id"],
        )
        return access, check

    def check_response(self, check: Check, code: int = status.HTTP_200_OK) -> Response:
        check = Check.objects.select_related("integration", "release").get(pk=check.pk)
        return Response(s.CheckSerializer(check).data, status=code)


class CheckDetail(CheckScoped):
    @extend_schema(responses=s.CheckSerializer)
    def get(self, request: Request, release_id: int, check_id: int) -> Response:
        _, check = self.check_for()
        return self.check_response(check)

    @extend_schema(request=s.CheckInputSerializer, responses=s.CheckSerializer)
    def patch(self, request: Request, release_id: int, check_id: int) -> Response:
        """Change the check; a change to what it reads starts its evidence over (pending)."""
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        assert check.release is not None  # check_for() finds the release's own checks
        context = {"project": check.release.project}
        data = validated(s.CheckInputSerializer, request, partial=True, context=context)
        check = save_release_check(check.release, by=request.user, check=check, **data)
        return self.check_response(check)

    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, release_id: int, check_id: int) -> Response:
        access, check = self.check_for()
        rules.EDIT_CHECKS.check(access)
        delete_release_check(check, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
