"""Freeze windows: the project's periods when nothing is deployed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from releases.models import (
    FreezeWindow,
    Project,
    ProjectEventKind,
    Release,
)
from releases.services.common import delete_project_row, reject_unknown_fields, save_project_row

FREEZE_FIELDS = (
    "reason",
    "recurrence",
    "starts_at",
    "ends_at",
    "start_weekday",
    "start_time",
    "end_weekday",
    "end_time",
    "timezone",
)


def save_freeze_window(
    project: Project, *, by: Any, window: FreezeWindow | None = None, **fields: Any
) -> FreezeWindow:
    reject_unknown_fields(fields, FREEZE_FIELDS, "freeze window")
    if "reason" in fields and not str(fields["reason"]).strip():
        raise ValidationError({"reason": "Say why deploys are frozen."})
    return save_project_row(
        project,
        window or FreezeWindow(),
        fields,
        "freeze window",
        by=by,
        kind=ProjectEventKind.FREEZE_WINDOW,
    )


def delete_freeze_window(window: FreezeWindow, *, by: Any) -> None:
    delete_project_row(window, by=by, kind=ProjectEventKind.FREEZE_WINDOW)


@dataclass(frozen=True)
class FreezePeriod:
    """One occurrence of a freeze window: a one-off window, or one week of a weekly one."""

    window: FreezeWindow
    starts_at: dt.datetime
    ends_at: dt.datetime

    @property
    def reason(self) -> str:
        return self.window.reason

    def describe(self) -> str:
        return f"{self.window.reason} ({self.window.describe()})"


def freeze_windows_overlapping(
    project: Project, start: dt.datetime, end: dt.datetime
) -> list[FreezePeriod]:
    """Every freeze period of the project that overlaps [start, end), earliest first.

    For the timeline and the release page. Reads ``project.freeze_windows.all()``, so prefetch
    ``freeze_windows`` when asking for many projects.
    """
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    periods = [
        FreezePeriod(window=window, starts_at=opens, ends_at=closes)
        for window in project.freeze_windows.all()
        for opens, closes in window.occurrences(start, end)
    ]
    return sorted(periods, key=lambda p: (p.starts_at, p.ends_at, p.window.pk))


def freeze_windows_for_release(release: Release) -> list[FreezePeriod]:
    """The freeze periods the release's planned deploy window runs into (none if unplanned)."""
    start = release.deploy_window_start
    if start is None:
        return []
    end = release.deploy_window_end
    if end is None or end <= start:
        end = start + dt.timedelta(microseconds=1)
    return freeze_windows_overlapping(release.project, start, end)


def freeze_windows_at(project: Project, moment: dt.datetime) -> list[FreezeWindow]:
    """The freeze windows in force at ``moment``."""
    periods = freeze_windows_overlapping(project, moment, moment + dt.timedelta(microseconds=1))
    return list({p.window.pk: p.window for p in periods}.values())
