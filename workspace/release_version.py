"""The version of a release page: a few values that change whenever anything the page shows
changes, read in one query.

The live refresh compares it (``release_token``) and the cached sections are keyed on it
(``release_cache``). Most changes log a release event (transitions, ticks, sign-offs, notes,
scope, check status changes, rollback plans, incidents, reviews, flags named and switched,
trackers' and commit ranges' news) or a project event (approval policy, members and roles,
integrations, freeze windows, checklist and check templates, project settings): the newest id of
each is most of the version. What changes without an event is covered by its own stamp: a check
read again with the same status (its value, detail, time), a feature flag's states read from
its provider, a flag switch claimed or put back in the queue, a tracker sync that found nothing
new. An integration's own health (its circuit, its last error) is not on the release page: the
page shows it through the checks that read the integration, whose status and time move.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from lib.precompiled import STAND_IN, Precompiled
from monitoring.models import (
    Check,
    FeatureFlag,
    FlagSwitch,
    ScopeSource,
)
from releases.models import (
    ProjectEvent,
    Release,
    ReleaseEvent,
)

# The annotations ``with_page_version`` adds, in the order the version lists them.
VERSION_FIELDS = (
    "updated_at",
    "v_event",
    "v_project_event",
    "v_checked",
    "v_flags_read",
    "v_switch_claimed",
    "v_switches_queued",
    "v_synced",
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
    """Annotate what the page's version is made of, one sub-select each."""
    release, project = OuterRef("pk"), OuterRef("project")
    return releases.annotate(
        v_event=Subquery(
            ReleaseEvent.objects.filter(release=release).order_by("-pk").values("pk")[:1]
        ),
        v_project_event=Subquery(
            ProjectEvent.objects.filter(project=project).order_by("-pk").values("pk")[:1]
        ),
        v_checked=_newest(Check.objects.filter(release=release), "release", "last_evaluated_at"),
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
        # A sync writes the tracked items' statuses and the source's time together.
        v_synced=_newest(ScopeSource.objects.filter(release=release), "release", "last_synced_at"),
    )


@functools.cache
def _compiled() -> Precompiled:
    """The version query, built and compiled once per process: building and compiling a dozen
    sub-selects costs Django several milliseconds a request, more than the rest of a page whose
    sections are all cached."""
    return Precompiled.of(
        with_page_version(Release.objects.filter(pk=STAND_IN)).values_list(*VERSION_FIELDS)
    )


def page_version(release_pk: int) -> tuple[Any, ...] | None:
    """The version of the release's page, or None for no such release."""
    rows = _compiled().rows(release_pk)
    return rows[0] if rows else None


def _part(value: Any) -> str:
    if value is None:
        return "0"
    if isinstance(value, dt.datetime):
        return str(int(value.timestamp() * 1_000_000))
    # Timestamps come as text from SQLite: kept as their digits, to sit in a URL.
    return re.sub(r"\D", "", str(value)) or "0"


def token_of(version: tuple[Any, ...]) -> str:
    """The version as a short string, for the live refresh and the cache keys."""
    return ".".join(_part(value) for value in version)


def release_token(release_pk: int) -> str:
    """Changes whenever anything the release page shows changes; "" for no such release."""
    version = page_version(release_pk)
    return token_of(version) if version is not None else ""
