"""Checklist templates of a project and the checklist items of a release."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lib.rest.filters import FilterBackend
from lib.rest.input import validated
from releases import access as rules
from releases import serializers as s
from releases.access import (
    ReleaseAccess,
    get_project_for,
)
from releases.api.common import ReleaseScoped
from releases.api.tokens import actor
from releases.models import (
    ChecklistItem,
    ChecklistTemplate,
    Phase,
    Project,
)
from releases.services.checklists import (
    delete_checklist_template,
    save_checklist_template,
    tick_checklist_item,
    untick_checklist_item,
)


class ChecklistTemplates(generics.ListAPIView):
    """The project's checklist: each item is copied onto the releases of the kinds it applies
    to, when they are created."""

    serializer_class = s.ChecklistTemplateSerializer
    queryset = ChecklistTemplate.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ChecklistTemplate]:
        return get_project_for(self.request.user, self.kwargs["slug"]).checklist_templates.all()

    @extend_schema(
        request=s.ChecklistTemplateSerializer, responses={201: s.ChecklistTemplateSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        """Add an item; releases created from now on get it."""
        project = get_project_for(request.user, slug)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(s.ChecklistTemplateSerializer, request)
        template = save_checklist_template(project, by=actor(request), **data)
        return Response(
            s.ChecklistTemplateSerializer(template).data, status=status.HTTP_201_CREATED
        )


class ChecklistTemplateDetail(APIView):
    def _load(self, request: Request, slug: str, template_id: int) -> tuple[Project, Any]:
        project = get_project_for(request.user, slug)
        return project, get_object_or_404(project.checklist_templates, pk=template_id)

    @extend_schema(responses=s.ChecklistTemplateSerializer)
    def get(self, request: Request, slug: str, template_id: int) -> Response:
        _, template = self._load(request, slug, template_id)
        return Response(s.ChecklistTemplateSerializer(template).data)

    @extend_schema(request=s.ChecklistTemplateSerializer, responses=s.ChecklistTemplateSerializer)
    def patch(self, request: Request, slug: str, template_id: int) -> Response:
        """Releases created later get the change; existing releases keep their copies."""
        project, template = self._load(request, slug, template_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        data = validated(
            s.ChecklistTemplateSerializer, request, partial=True, context={"template": template}
        )
        template = save_checklist_template(project, by=actor(request), template=template, **data)
        return Response(s.ChecklistTemplateSerializer(template).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, slug: str, template_id: int) -> Response:
        """Future releases lose the item; existing releases keep their copies."""
        project, template = self._load(request, slug, template_id)
        rules.MANAGE_PROJECT.check(request.user, project)
        delete_checklist_template(template, by=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChecklistFilter(django_filters.FilterSet):
    phase = django_filters.ChoiceFilter(choices=Phase.choices)

    class Meta:
        model = ChecklistItem
        fields = ["phase"]


class ChecklistItems(ReleaseScoped, generics.ListAPIView):
    serializer_class = s.ChecklistItemSerializer
    queryset = ChecklistItem.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = ChecklistFilter

    def get_queryset(self) -> QuerySet[ChecklistItem]:
        release, _ = self.release_and_access()
        return release.checklist_items.select_related("ticked_by")


class ChecklistItemScoped(ReleaseScoped):
    def item(self) -> tuple[ReleaseAccess, ChecklistItem]:
        release, access = self.release_and_access()
        item = get_object_or_404(
            release.checklist_items.select_related("ticked_by"), pk=self.kwargs["item_id"]
        )
        return access, item


class TickItem(ChecklistItemScoped):
    @extend_schema(request=s.TickSerializer, responses=s.ChecklistItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Tick with evidence: a note, a link, or both."""
        access, item = self.item()
        rules.TICK.check(access, item)
        data = validated(s.TickSerializer, request)
        item = tick_checklist_item(item, by=actor(request), note=data["note"], url=data["url"])
        return Response(s.ChecklistItemSerializer(item).data)


class UntickItem(ChecklistItemScoped):
    @extend_schema(request=s.UntickSerializer, responses=s.ChecklistItemSerializer)
    def post(self, request: Request, release_id: int, item_id: int) -> Response:
        """Untick; a required readiness item makes existing sign-offs stale."""
        access, item = self.item()
        rules.TICK.check(access, item)
        data = validated(s.UntickSerializer, request)
        item = untick_checklist_item(item, by=actor(request), reason=data["reason"])
        return Response(s.ChecklistItemSerializer(item).data)
