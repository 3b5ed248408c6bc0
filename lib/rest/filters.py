"""The API's filter backend."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the view's filters.

    Building and validating a FilterSet costs about a millisecond; most list requests filter
    on nothing (docs/performance.md).
    """

    # DRF hands filter backends its own Request; the django-filter stub says HttpRequest.
    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:  # type: ignore[override]
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not set(request.query_params) & set(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
