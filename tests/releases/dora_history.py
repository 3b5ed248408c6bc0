"""A seeded release history for the DORA figures: six deploys in November 2026, one fixed by a
hotfix, one rolled back; the expected values are worked out by hand in test_metrics.py."""

from __future__ import annotations

import datetime as dt

from releases.models import Release, ScopeItem

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def deployed(cast, version, *, kind="standard", status="released", start, finish, items, **extra):
    release = Release.objects.create(
        project=cast.project,
        version=version,
        kind=kind,
        status=status,
        deploy_started_at=start,
        deploy_finished_at=finish,
        **extra,
    )
    for title, merged, created in items:
        item = ScopeItem.objects.create(release=release, title=title, merged_at=merged)
        if created:
            ScopeItem.objects.filter(pk=item.pk).update(created_at=created)
    return release


def seed_history(cast):
    deployed(
        cast,
        "1.0.0",
        start=at(2, 10),
        finish=at(2, 11),
        items=[("A", dt.datetime(2026, 10, 30, 11, tzinfo=dt.UTC), None), ("B", None, at(1, 11))],
    )
    deployed(
        cast,
        "1.1.0",
        start=at(9, 10),
        finish=at(9, 11),
        unhealthy_since=at(9, 12),
        items=[("C", at(8, 11), None)],
    )
    deployed(
        cast,
        "1.1.1",
        kind="hotfix",
        start=at(9, 15),
        finish=at(9, 15, 30),
        items=[("D", at(9, 14, 30), None)],
    )
    deployed(
        cast,
        "1.2.0",
        status="rolled_back",
        start=at(16, 10),
        finish=at(16, 11),
        unhealthy_since=at(16, 11, 30),
        rolled_back_at=at(16, 11, 40),
        rollback_finished_at=at(16, 12),
        items=[("E", at(13, 11), None)],
    )
    deployed(cast, "1.3.0", start=at(23, 10), finish=at(23, 11), items=[("F", at(21, 11), None)])
    deployed(cast, "1.4.0", start=at(30, 10), finish=at(30, 11), items=[("G", at(29, 11), None)])
    Release.objects.create(project=cast.project, version="2.0.0")  # never deployed
    return cast
