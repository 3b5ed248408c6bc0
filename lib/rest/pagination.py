"""How API lists are paged: by page number, 20 a page unless the client asks for up to 100."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination


@dataclass(frozen=True)
class PlainRows:
    """``queryset`` for a paginator, its pages read as ``values(*fields)``.

    The count is the queryset's own, without the joins that only the rows' columns need, and a
    page's rows are dicts rather than model instances that would only be read and thrown away.
    """

    queryset: QuerySet[Any]
    fields: tuple[str, ...]

    @property
    def ordered(self) -> bool:
        """Django's paginator warns about pages of an unordered queryset."""
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        return list(self.queryset[page].values(*self.fields))


class PagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
