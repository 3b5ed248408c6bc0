"""The project's freeze windows."""

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
from releases import access as rules
from releases import serializers as s
from releases.access import (
    get_project_for,
)
from releases.api.tokens import actor
from releases.models import (
    FreezeWindow,
    Project,
)
from releases.services.freeze_windows import delete_freeze_window, save_freeze_window


class FreezeWindows(generics.ListAPIView):
    serializer_class = s.FreezeWindowSerializer
    queryset = FreezeWindow.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[FreezeWindow]:
        return get_project_for(self.request.user, self.kwargs["slug"]).freeze_windows.order_by("pk")

    @extend_schema(request=s.FreezeWindowSerializer, responses={201: s.FreezeWindowSerializer})
    def post(self, request: Request, slug: str) -> Response:
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.FreezeWindowSerializer, request)
        window = save_freeze_window(project, by=actor(request), **data)
        return Response(s.FreezeWindowSerializer(window).data, status=status.HTTP_201_CREATED)


class FreezeWindowDetail(APIView):
    def _load(self, request: Request, slug: str, window_id: int) -> tuple[Project, FreezeWindow]:
        project = get_project_for(request.user, slug)
        return project, get_object_or_404(project.freeze_windows, pk=window_id)

    @extend_schema(responses=s.FreezeWindowSerializer)
    def get(self, request: Request, slug: str, window_id: int) -> Response:
        _, window = self._load(request, slug, window_id)
        return Response(s.FreezeWindowSerializer(window).data)

    @extend_schema(request=s.FreezeWindowSerializer, responses=s.FreezeWindowSerializer)
    def patch(self, request: Request, slug: str, window_id: int) -> Response:
        project, window = self._load(request, slug, window_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.FreezeWindowSerializer, request, partial=True)
        window = save_freeze_window(project, by=actor(request), window=window, **data)
        return Response(s.FreezeWindowSerializer(window).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, window_id: int) -> Response:
        project, window = self._load(request, slug, window_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        delete_freeze_window(window, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
