"""Projects, their members and deploy environments."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.errors import Conflict
from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.access import (
    get_project_for,
    visible_projects,
)
from releases.api.tokens import actor
from releases.models import (
    Project,
    ProjectMembership,
)
from releases.services.projects import (
    create_project,
    set_deploy_environments,
    set_project_roles,
    update_project,
)

User = get_user_model()


class ProjectList(generics.ListAPIView):
    """The projects you belong to (a project token sees its own)."""

    serializer_class = s.ProjectSerializer
    queryset = Project.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Project]:
        return visible_projects(self.request.user).order_by("name", "pk")

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: Request) -> Response:
        """Create a project; you become its release manager. Superusers may, and people given
        the ``releases.add_project`` permission (a group in the admin); project tokens never."""
        rules.CREATE_PROJECT.check(request.user)
        data = validated(s.ProjectCreateSerializer, request)
        project = create_project(by=request.user, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ProjectSerializer(get_project_for(request.user, slug)).data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.ProjectUpdateSerializer, request, partial=True)
        project = update_project(project, by=actor(request), **data)
        return Response(s.ProjectSerializer(project).data)


class ProjectDeployEnvironments(APIView):
    @extend_schema(responses=s.DeployEnvironmentsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        return Response({"deploy_environments": project.deploy_environments})

    @extend_schema(request=s.DeployEnvironmentsSerializer, responses=s.DeployEnvironmentsSerializer)
    def put(self, request: Request, slug: str) -> Response:
        """Replace the mapping of CI environment names to release environments."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.DeployEnvironmentsSerializer, request)
        project = set_deploy_environments(
            project, by=actor(request), mapping=data["deploy_environments"]
        )
        return Response({"deploy_environments": project.deploy_environments})


def _members(project: Project, user_ids: list[int] | None = None) -> list[dict[str, Any]]:
    rows = ProjectMembership.objects.filter(project=project).select_related("user")
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    people: dict[int, dict[str, Any]] = {}
    for row in rows.order_by("user__username", "role"):
        entry = people.setdefault(
            row.user_id,
            {
                "id": row.user_id,
                "username": row.user.get_username(),
                "name": row.user.get_full_name(),
                "roles": [],
            },
        )
        entry["roles"].append(row.role)
    return list(people.values())


class ProjectMembers(APIView):
    @extend_schema(responses=s.MemberSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return Response(_members(get_project_for(request.user, slug)))

    @extend_schema(request=s.MemberAddSerializer, responses={201: s.MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """Add a person to the project by username, with their roles. Someone already in it
        answers 409: change their roles on their own address instead."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.MemberAddSerializer, request)
        person = data["username"]
        if ProjectMembership.objects.filter(project=project, user=person).exists():
            raise Conflict(
                f"{person.get_username()} is already a member; set their roles with PUT "
                f"/api/projects/{project.slug}/members/{person.pk}/."
            )
        set_project_roles(project, person, data["roles"], by=actor(request))
        return Response(_members(project, [person.pk])[0], status=status.HTTP_201_CREATED)


class ProjectMember(APIView):
    @extend_schema(
        request=s.MemberRolesSerializer,
        responses={200: s.MemberSerializer, 204: OpenApiResponse(description="Removed.")},
        description="Set a person's roles on the project (an empty list removes them). New "
        "releases assign these roles by default.",
    )
    def put(self, request: Request, slug: str, user_id: int) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        person = get_object_or_404(User, pk=user_id, is_active=True)
        data = validated(s.MemberRolesSerializer, request)
        set_project_roles(project, person, data["roles"], by=actor(request))
        entry = _members(project, [person.pk])
        if not entry:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(entry[0])
