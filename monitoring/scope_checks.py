"""What the trackers and the commit range say about a release's scope, for readiness and pages.

Readiness asks :func:`scope_problems`: an included scope item its tracker does not call done,
and — once the scope is locked — a change in the commit range that no scope item covers (nor an
accepted scope change request, nor Product and the release manager accepting it as part of the
release), or a commit range that could not be read for this commit. Fail closed: a status the
tracker did not give is not done; a range not read for this commit is not clean.

Everything is read from rows readiness prefetches (``SCOPE_PREFETCHES``); no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch

from monitoring.integrations.commits import names_key
from monitoring.models import CommitRange, RangeChange, TrackedItem
from releases.models import Release, ScopeItem

# What ``compute_readiness`` prefetches so that these reads cost no query per release. Tracked
# items are read by scope item: ordered by their own id, not by their release (the model's
# order, which joins the releases to every prefetch).
SCOPE_PREFETCHES = (
    Prefetch("tracked_items", queryset=TrackedItem.objects.order_by("pk")),
    "commit_range__changes__change_request",
)


@dataclass(frozen=True)
class ScopeProblem:
    kind: str  # tracker | unplanned_change
    message: str


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def commit_range_of(release: Release) -> CommitRange | None:
    try:
        return release.commit_range
    except ObjectDoesNotExist:
        return None


def covering_items(change: RangeChange, items: Iterable[ScopeItem]) -> list[ScopeItem]:
    """The included scope items whose tracker key the change names."""
    return [
        item
        for item in items
        if item.state == ScopeItem.State.INCLUDED and names_key(change.keys, change.text, item.key)
    ]


def is_unplanned(change: RangeChange, items: Iterable[ScopeItem]) -> bool:
    return not (change.accepted or change.requested or covering_items(change, items))


def unplanned_changes(release: Release) -> list[RangeChange]:
    commit_range = commit_range_of(release)
    if commit_range is None:
        return []
    items = list(release.scope_items.all())
    return [change for change in commit_range.changes.all() if is_unplanned(change, items)]


def not_done(release: Release) -> list[tuple[ScopeItem, TrackedItem]]:
    """Included scope items whose tracker does not say they are done."""
    tracked = {t.scope_item_id: t for t in release.tracked_items.all()}
    return [
        (item, tracked[item.pk])
        for item in release.scope_items.all()
        if item.pk in tracked
        and item.state == ScopeItem.State.INCLUDED
        and tracked[item.pk].done is not True
    ]


def scope_problems(release: Release) -> tuple[int, list[ScopeProblem]]:
    """(criteria, problems): at most one problem per criterion."""
    criteria, problems = 0, []
    if release.tracked_items.all():
        criteria += 1
        open_items = not_done(release)
        if open_items:
            names = [
                f"{item.key} ({tracked.status or 'status unknown'})" for item, tracked in open_items
            ]
            problems.append(
                ScopeProblem(
                    "tracker",
                    f"{len(open_items)} scope item{'s are' if len(open_items) != 1 else ' is'} "
                    f"not done in the tracker: {_names(names)}",
                )
            )
    commit_range = commit_range_of(release)
    if commit_range is not None and release.scope_locked:
        criteria += 1
        why = commit_range.problem(release.commit_sha)
        unplanned = unplanned_changes(release) if not why else []
        if why:
            problems.append(ScopeProblem("unplanned_change", why[:1].upper() + why[1:]))
        elif unplanned:
            names = [f"{c.ref} {c.title}" for c in unplanned]
            problems.append(
                ScopeProblem(
                    "unplanned_change",
                    f"{len(unplanned)} unplanned change{'s' if len(unplanned) != 1 else ''} "
                    f"since the previous release: {_names(names)} — request a scope change or "
                    "accept it as part of this release",
                )
            )
    return criteria, problems
