"""Reads of checks that pages reuse, built so a page's query count does not grow with its rows."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from monitoring.models import Check, CheckResult

# Status changes a sparkline draws.
SPARKLINE_RESULTS = 30


def with_history(queryset: QuerySet[Check], limit: int = SPARKLINE_RESULTS) -> QuerySet[Check]:
    """Checks with their latest ``limit`` results in ``check.recent_results`` (newest first),
    fetched in one query for all of them: what ``{% check_sparkline %}`` draws."""
    return queryset.prefetch_related(
        Prefetch(
            "results",
            queryset=CheckResult.objects.order_by("-observed_at", "-pk")[:limit],
            to_attr="recent_results",
        )
    )
