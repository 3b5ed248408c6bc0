"""The version of a release page: a few values that change whenever anything the page shows
changes, read in the same query that loads the release for its access check.

The live refresh compares it (``release_token``) and the cached sections are keyed on it
(``release_cache``). Most changes log a release event (transitions, ticks, sign-offs, notes,
scope, check status changes, rollback plans, incidents, reviews, flags bound and switched,
trackers' and commit ranges' news) or a project event (approval policy, members and roles,
integrations, freeze windows, checklist and check templates, project settings): the newest id of
each is most of the version. What changes without an event is covered by its own stamp: a check
read again with the same status (its value, detail, time), a feature flag's states read from
its provider, a flag switch claimed or put back in the queue, a tracker sync that found nothing
new, an integration's circuit opening or closing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from monitoring.models import (
    Check,
    CircuitState,
    FeatureFlag,
    FlagSwitch,
    Integration,
    ScopeSource,
    TrackedItem,
)
from releases.models import (
    Incident,
    ProjectEvent,
    Release,
    ReleaseEvent,
    Review,
    RollbackPlan,
)

# The annotations ``with_page_version`` adds, in the order the version lists them.
VERSION_FIELDS = (
    "updated_at",
    "v_event",
    "v_project_event",
    "v_checked",
    "v_plan",
    "v_incident",
    "v_review",
    "v_flags_read",
    "v_switch_claimed",
    "v_switches_queued",
    "v_synced",
    "v_tracked",
    "v_circuits",
)


def _newest(queryset: QuerySet[Any], group: str, field: str) -> Subquery:
    """The newest ``field`` of the rows of ``queryset`` (one release's or project's), or None."""
    return Subquery(
        queryset.order_by().values(group).annotate(newest=Max(field)).values("newest")[:1]
    )


def _count(queryset: QuerySet[Any], group: str) -> Coalesce:
    return Coalesce(
        Subquery(queryset.order_by().values(group).annotate(n=Count("pk")).values("n")[:1]), 0
    )


def with_page_version(releases: QuerySet[Release]) -> QuerySet[Release]:
    """Annotate what the page's version is made of: one sub-select each, no query of their own."""
    release, project = OuterRef("pk"), OuterRef("project")
    return releases.annotate(
        v_event=Subquery(
            ReleaseEvent.objects.filter(release=release).order_by("-pk").values("pk")[:1]
        ),
        v_project_event=Subquery(
            ProjectEvent.objects.filter(project=project).order_by("-pk").values("pk")[:1]
        ),
        v_checked=_newest(Check.objects.filter(release=release), "release", "last_evaluated_at"),
        v_plan=Subquery(RollbackPlan.objects.filter(release=release).values("updated_at")[:1]),
        v_incident=_newest(Incident.objects.filter(release=release), "release", "updated_at"),
        v_review=Subquery(Review.objects.filter(release=release).values("updated_at")[:1]),
        v_flags_read=_newest(
            FeatureFlag.objects.filter(scope_item__release=release),
            "scope_item__release",
            "read_at",
        ),
        v_switch_claimed=_newest(
            FlagSwitch.objects.filter(release=release), "release", "claimed_at"
        ),
        # A failed attempt puts a switch back in the queue without an event.
        v_switches_queued=_count(
            FlagSwitch.objects.filter(release=release, state=FlagSwitch.State.PENDING), "release"
        ),
        v_synced=_newest(ScopeSource.objects.filter(release=release), "release", "last_synced_at"),
        v_tracked=_newest(TrackedItem.objects.filter(release=release), "release", "synced_at"),
        v_circuits=_count(
            Integration.objects.filter(project=project).exclude(circuit_state=CircuitState.CLOSED),
            "project",
        ),
    )


def version_of(release: Release) -> tuple[Any, ...]:
    """The version of a release loaded through ``with_page_version``."""
    return tuple(getattr(release, name) for name in VERSION_FIELDS)


def _part(value: Any) -> str:
    if value is None:
        return "0"
    if isinstance(value, dt.datetime):
        return str(int(value.timestamp() * 1_000_000))
    return str(value)


def token_of(release: Release) -> str:
    """The version as a short string, for the live refresh and the cache keys."""
    return ".".join(_part(value) for value in version_of(release))


def release_token(release_pk: int) -> str:
    """Changes whenever anything the release page shows changes; "" for no such release."""
    release = with_page_version(Release.objects.filter(pk=release_pk)).only("updated_at").first()
    return token_of(release) if release is not None else ""
