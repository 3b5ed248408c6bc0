"""Releases: the list, one release, its release notes."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from lib.rest.input import validated
from lib.rest.pagination import PlainRows
from releases import access as rules
from releases import serializers as s
from releases.access import (
    get_project_for,
    visible_releases,
)
from releases.api.common import ReleaseScoped, release_response
from releases.api.tokens import actor
from releases.filters import ReleaseFilter
from releases.models import (
    Release,
)
from releases.release_notes import render_release_notes
from releases.services.releases import create_release, update_release


class Releases(generics.ListAPIView):
    """Releases of your projects, newest first; search by version, title or scope key, filter by
    project, status, kind and date."""

    serializer_class = s.ReleaseSerializer
    queryset = Release.objects.none()
    filterset_class = ReleaseFilter

    def get_queryset(self) -> QuerySet[Release]:
        return visible_releases(self.request.user).order_by("-created_at", "-pk")

    def paginate_queryset(self, queryset: Any) -> list[Any] | None:
        # The page as plain values: ``ReleaseSerializer`` reads those rows as they are. Django's
        # paginator takes any sliceable object with count(); the stub allows only querysets and
        # sequences.
        return super().paginate_queryset(PlainRows(queryset, s.RELEASE_VALUES))  # type: ignore[arg-type]

    @extend_schema(request=s.ReleaseCreateSerializer, responses={201: s.ReleaseSerializer})
    def post(self, request: Request) -> Response:
        """Create a release: its roles, checklist, rollback plan and checks come from the
        project's defaults."""
        data = validated(s.ReleaseCreateSerializer, request)
        project = get_project_for(request.user, data.pop("project"))
        rules.CREATE_RELEASE.check(request.user, project)
        release = create_release(project, by=actor(request), **data)
        return release_response(release, status.HTTP_201_CREATED)


class ReleaseDetail(ReleaseScoped):
    @extend_schema(responses=s.ReleaseSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        release, _ = self.release_and_access()
        return release_response(release)

    @extend_schema(request=s.ReleaseUpdateSerializer, responses=s.ReleaseSerializer)
    def patch(self, request: Request, release_id: int) -> Response:
        release, access = self.release_and_access()
        rules.EDIT_RELEASE.check(access)
        data = validated(s.ReleaseUpdateSerializer, request, partial=True)
        return release_response(update_release(release, by=actor(request), **data))


class ReleaseNotesView(ReleaseScoped):
    @extend_schema(responses=s.ReleaseNotesSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The release notes in Markdown, generated from the scope."""
        release, _ = self.release_and_access()
        return Response({"release": release.pk, "markdown": render_release_notes(release)})
