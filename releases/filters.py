"""Finding releases: one filter for the releases list page and ``GET /api/releases/``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypedDict

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from releases.models import (
    Project,
    Release,
    ReleaseKind,
    ReleaseQuerySet,
    ScopeItem,
    Status,
    listed_on,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class Listed(TypedDict):
    listed_on: dt.datetime


def dated(queryset: QuerySet[Release]) -> QuerySet[WithAnnotations[Release, Listed]]:
    """The day a release is listed under: its deploy, else its planned window, else its
    creation."""
    return queryset.annotate(listed_on=listed_on())


class ReleaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        help_text="Part of a version, a title or a scope item's tracker key (e.g. PAY-142).",
    )
    project = django_filters.CharFilter(
        field_name="project__slug", help_text="The project's short name (slug)."
    )
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    kind = django_filters.ChoiceFilter(choices=ReleaseKind.choices)
    active = django_filters.BooleanFilter(
        method="filter_active", help_text="Only releases still in progress (or only finished)."
    )
    after = django_filters.DateFilter(
        method="filter_after",
        label="From",
        help_text="Deployed (or planned, or created) on or after this day, YYYY-MM-DD (UTC).",
    )
    before = django_filters.DateFilter(
        method="filter_before",
        label="Until",
        help_text="Deployed (or planned, or created) on or before this day, YYYY-MM-DD (UTC).",
    )

    class Meta:
        model = Release
        fields = ["q", "project", "status", "kind", "active", "after", "before"]

    def filter_search(self, queryset: QuerySet[Release], name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        keyed = ScopeItem.objects.filter(release=OuterRef("pk"), key__icontains=value)
        return queryset.filter(
            Q(version__icontains=value) | Q(title__icontains=value) | Exists(keyed)
        )

    def filter_active(self, queryset: ReleaseQuerySet, name: str, value: bool) -> QuerySet:
        return queryset.active() if value else queryset.exclude(pk__in=queryset.active())

    def filter_after(self, queryset: QuerySet[Release], name: str, value: dt.date) -> QuerySet:
        start = dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
        return dated(queryset).filter(listed_on__gte=start)

    def filter_before(self, queryset: QuerySet[Release], name: str, value: dt.date) -> QuerySet:
        end = dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        return dated(queryset).filter(listed_on__lt=end)


class ReleaseListFilter(ReleaseFilter):
    """The page's version: the project is chosen among the person's projects, statuses one at
    a time."""

    # A FilterSet may redeclare a filter with another kind; the stub types them as attributes.
    project = django_filters.ChoiceFilter(  # type: ignore[assignment]
        field_name="project__slug", empty_label="All projects"
    )
    status = django_filters.ChoiceFilter(  # type: ignore[assignment]
        choices=Status.choices, empty_label="Any status"
    )
    kind = django_filters.ChoiceFilter(choices=ReleaseKind.choices, empty_label="Any kind")
    after = django_filters.DateFilter(
        method="filter_after", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    before = django_filters.DateFilter(
        method="filter_before", label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta(ReleaseFilter.Meta):
        fields = ["q", "project", "status", "kind", "after", "before"]

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["project"].extra["choices"] = [(p.slug, p.name) for p in projects]
