"""The event logs of a release and of a project."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import generics
from rest_framework.pagination import CursorPagination

from lib.rest.filters import FilterBackend
from releases import serializers as s
from releases.access import (
    get_project_for,
)
from releases.api.common import ReleaseScoped
from releases.models import (
    ProjectEvent,
    ProjectEventKind,
    ReleaseEvent,
)


class EventCursorPagination(CursorPagination):
    """Events by cursor, newest first: events logged while a client reads never shift its page."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ReleaseEvents(ReleaseScoped, generics.ListAPIView):
    """The release's timeline: everything that happened, newest first."""

    serializer_class = s.EventSerializer
    pagination_class = EventCursorPagination
    queryset = ReleaseEvent.objects.none()

    def get_queryset(self) -> QuerySet[ReleaseEvent]:
        release, _ = self.release_and_access()
        return ReleaseEvent.objects.filter(release=release).select_related("actor")


class ProjectEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(
        choices=ProjectEventKind.choices, help_text="Only changes of this kind."
    )
    actor = django_filters.CharFilter(
        method="filter_actor",
        help_text="Only changes by this person (username) or machine (e.g. `CI token ci`).",
    )

    class Meta:
        model = ProjectEvent
        fields = ["kind", "actor"]

    def filter_actor(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.by_actor(value)


class ProjectEvents(generics.ListAPIView):
    """The project's audit log: every change to its settings, members, approval policy, freeze
    windows, templates, integrations, checks, tokens and trains, newest first. Members read it
    (viewers included); credentials appear only as "credentials changed"."""

    serializer_class = s.ProjectEventSerializer
    pagination_class = EventCursorPagination
    queryset = ProjectEvent.objects.none()
    filter_backends = [FilterBackend]
    filterset_class = ProjectEventFilter

    def get_queryset(self) -> QuerySet[ProjectEvent]:
        project = get_project_for(self.request.user, self.kwargs["slug"])
        return project.events.select_related("actor")
