"""The timeline drawn on the server: releases as lanes, milestones planned against actual, freeze
windows shaded. Geometry is computed here; ``templates/releases/timeline.html`` only draws it.

Three queries whatever the number of releases: the releases in the range, their incidents, and
the freeze windows of their projects
(``releases.services.freeze_windows.freeze_windows_overlapping`` turns them into periods).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from releases.models import FreezeWindow, Incident, Release, is_late
from releases.services.freeze_windows import freeze_windows_overlapping

WIDTH = 1100
LABEL_WIDTH = 230
RIGHT_PAD = 20
LANE_HEIGHT = 50
# Planned milestones sit on the upper row of a lane, what happened on the lower one.
ROW_OFFSET = 10
MARKER_GAP = 17  # markers closer than this are nudged apart so every letter stays readable
PROJECT_HEIGHT = 28
AXIS_HEIGHT = 44
# The chart and its "earlier"/"later" links move by weeks from the first day: keep them all
# within the calendar.
FIRST_DAY = dt.date.min + dt.timedelta(weeks=5)
LAST_DAY = dt.date.max - dt.timedelta(weeks=9)
# A chart shows eight weeks, opening three weeks before today unless asked for another day.
WEEKS_SHOWN = 8
WEEKS_BEFORE_TODAY = 3

# More lanes than this go on further pages: a chart is read, not scrolled for ever.
LANES_PER_PAGE = 40

# One letter per milestone so the chart reads without hovering; the legend spells them out.
MILESTONES = [
    # key, label, letter, planned field, actual field
    ("freeze", "Code freeze", "F", "code_freeze_at", "frozen_at"),
    ("go", "Go/no-go", "G", "go_no_go_at", "approved_at"),
    ("deploy", "Deploy start", "D", "deploy_window_start", "deploy_started_at"),
    ("done", "Deploy done", "E", "deploy_window_end", "deploy_finished_at"),
    ("monitor", "End of monitoring", "M", "planned_monitoring_end", "released_at"),
]
# Planned moments that are not columns: the columns they are read from, to find the releases
# in a range.
PLANNED_FROM = {"planned_monitoring_end": ("monitoring_ends_at", "monitoring_until")}
# A release that ended early still shows when it ended.
ENDINGS = [("rolled_back_at", "Rolled back", "R"), ("cancelled_at", "Cancelled", "C")]
# An incident is drawn where it began, lettered by severity (S1 … S4), over the span it lasted
# (until now while it is open).


@dataclass
class Marker:
    x: float
    letter: str
    label: str
    when: dt.datetime
    actual: bool
    late: bool = False
    y: float = 0.0
    true_x: float = 0.0  # where the moment is; ``x`` may be nudged right of it
    severity: str = ""  # set on an incident's marker


@dataclass
class Bar:
    x: float
    width: float
    kind: str  # planned | actual | monitoring
    label: str
    y: float = 0.0
    severity: str = ""  # set on an incident's span


@dataclass
class Lane:
    release: Release
    y: float
    markers: list[Marker] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    slips: list[tuple[float, float, float, float]] = field(default_factory=list)
    # The release's incidents that overlap the range, oldest first.
    incidents: list[Incident] = field(default_factory=list)

    @property
    def mid(self) -> float:
        return self.y + LANE_HEIGHT / 2

    @property
    def planned_y(self) -> float:
        return self.mid - ROW_OFFSET

    @property
    def actual_y(self) -> float:
        return self.mid + ROW_OFFSET


@dataclass
class Band:
    x: float
    width: float
    y: float
    height: float
    reason: str
    describe: str


@dataclass
class Group:
    project: Any
    y: float
    lanes: list[Lane] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    start: dt.datetime
    end: dt.datetime
    now_x: float | None
    groups: list[Group]
    ticks: list[Tick]
    height: float
    windows: list[FreezeWindow]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def chart_right(self) -> int:
        return WIDTH - RIGHT_PAD

    @property
    def lanes(self) -> list[Lane]:
        return [lane for group in self.groups for lane in group.lanes]


def first_day(asked: str, *, now: dt.datetime) -> dt.date:
    """The chart's first day: the ISO date asked for, or three weeks before today."""
    try:
        day = dt.date.fromisoformat(asked)
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        day = (now - dt.timedelta(weeks=WEEKS_BEFORE_TODAY)).date()
    return day


def _dates(release: Release) -> list[dt.datetime]:
    names = [m[3] for m in MILESTONES] + [m[4] for m in MILESTONES] + [e[0] for e in ENDINGS]
    return [value for name in names if (value := getattr(release, name))]


def releases_in_range(
    releases: QuerySet[Release], start: dt.datetime, end: dt.datetime
) -> QuerySet:
    """Releases with anything planned or done inside the range, by project and deploy date."""
    touches = Q(pk__in=[])
    for _key, _label, _letter, planned, actual in MILESTONES:
        for name in (*PLANNED_FROM.get(planned, (planned,)), actual):
            touches |= Q(**{f"{name}__range": (start, end)})
    for name, _label, _letter in ENDINGS:
        touches |= Q(**{f"{name}__range": (start, end)})
    return (
        releases.filter(touches)
        .select_related("project")
        .order_by(
            "project__name",
            F("deploy_window_start").asc(nulls_last=True),
            F("code_freeze_at").asc(nulls_last=True),
            "version",
            "pk",
        )
    )


def build(
    releases: list[Release],
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime | None = None,
) -> Timeline:
    now = now or timezone.now()
    span = (end - start).total_seconds()
    chart = WIDTH - LABEL_WIDTH - RIGHT_PAD

    def x_of(moment: dt.datetime) -> float:
        fraction = (moment - start).total_seconds() / span
        return round(LABEL_WIDTH + min(max(fraction, 0.0), 1.0) * chart, 1)

    def first_date(release: Release) -> dt.datetime:
        return min(_dates(release), default=end)

    by_project: dict[int, list[Release]] = {}
    for release in sorted(releases, key=lambda r: (r.project.name, first_date(r), r.version)):
        by_project.setdefault(release.project_id, []).append(release)
    projects = [group[0].project for group in by_project.values()]
    prefetch_related_objects(projects, "freeze_windows")
    prefetch_related_objects(releases, "incidents")
    windows = [w for project in projects for w in project.freeze_windows.all()]

    groups: list[Group] = []
    y = float(AXIS_HEIGHT)
    for project_releases in by_project.values():
        group = Group(project=project_releases[0].project, y=y)
        y += PROJECT_HEIGHT
        for release in project_releases:
            group.lanes.append(_lane(release, y, x_of, start, end, now=now))
            y += LANE_HEIGHT
        for period in freeze_windows_overlapping(group.project, start, end):
            left = x_of(max(period.starts_at, start))
            group.bands.append(
                Band(
                    x=left,
                    width=max(1.0, x_of(min(period.ends_at, end)) - left),
                    y=group.y,
                    height=y - group.y,
                    reason=period.reason,
                    describe=period.window.describe(),
                )
            )
        groups.append(group)

    ticks = []
    day = (start + dt.timedelta(days=(7 - start.weekday()) % 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    while day <= end:
        ticks.append(Tick(x=x_of(day), label=f"{day:%a} {day.day} {day:%b}"))
        day += dt.timedelta(days=7)
    return Timeline(
        start=start,
        end=end,
        now_x=x_of(now) if start <= now <= end else None,
        groups=groups,
        ticks=ticks,
        height=y + 10,
        windows=windows,
    )


def incident_label(incident: Incident) -> str:
    """What a person reads on an incident's marker and span: its severity first."""
    return f"{incident.get_severity_display()} incident “{incident.title}”"


def incident_letter(incident: Incident) -> str:
    return "S" + incident.severity.removeprefix("sev")


def _lane(
    release: Release,
    y: float,
    x_of: Any,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
) -> Lane:
    lane = Lane(release=release, y=y)

    def inside(moment: dt.datetime | None) -> bool:
        return moment is not None and start <= moment <= end

    def bar(begin: dt.datetime, until: dt.datetime, kind: str, label: str, row: float) -> None:
        left = x_of(begin)
        width = max(3.0, x_of(until) - left)
        lane.bars.append(Bar(x=left, width=width, kind=kind, label=label, y=row - 5))

    if release.deploy_window_start and release.deploy_window_end:
        bar(
            release.deploy_window_start,
            release.deploy_window_end,
            "planned",
            "Planned deploy window",
            lane.planned_y,
        )
    if release.deploy_started_at:
        finished = release.deploy_finished_at or release.rolled_back_at or timezone.now()
        bar(release.deploy_started_at, finished, "actual", "Deploy", lane.actual_y)
    if release.deploy_finished_at:
        until = release.released_at or release.rolled_back_at or release.monitoring_until
        if until:
            bar(release.deploy_finished_at, until, "monitoring", "Monitoring", lane.actual_y)

    pairs: list[tuple[Marker | None, Marker | None]] = []
    for _key, label, letter, planned_name, actual_name in MILESTONES:
        planned, actual = getattr(release, planned_name), getattr(release, actual_name)
        planned_marker = actual_marker = None
        if inside(planned):
            planned_marker = Marker(x_of(planned), letter, f"{label} planned", planned, False)
            planned_marker.y = lane.planned_y
        if inside(actual):
            late = is_late(planned, actual)
            actual_marker = Marker(x_of(actual), letter, f"{label} done", actual, True, late)
            actual_marker.y = lane.actual_y
        pairs.append((planned_marker, actual_marker))
    endings = []
    for name, label, letter in ENDINGS:
        moment = getattr(release, name)
        if inside(moment):
            ending = Marker(x_of(moment), letter, label, moment, True)
            ending.y = lane.actual_y
            endings.append(ending)

    incident_markers = []
    for incident in release.incidents.all():
        until = incident.resolved_at or now
        if incident.started_at > end or until < start:
            continue
        lane.incidents.append(incident)
        label = incident_label(incident)
        ended = (
            f"resolved {incident.resolved_at:%a %d %b, %H:%M} UTC"
            if incident.resolved_at
            else "still open"
        )
        # Drawn after the deploy and monitoring bars, so the span of trouble shows on top.
        bar(incident.started_at, until, "incident", f"{label}, {ended}", lane.actual_y)
        lane.bars[-1].severity = incident.severity
        if inside(incident.started_at):
            marker = Marker(
                x_of(incident.started_at),
                incident_letter(incident),
                f"{label} started",
                incident.started_at,
                True,
            )
            marker.y = lane.actual_y
            marker.severity = incident.severity
            incident_markers.append(marker)

    planned_row = [p for p, _a in pairs if p is not None]
    actual_row = [a for _p, a in pairs if a is not None] + endings + incident_markers
    for row in (planned_row, actual_row):
        _spread(row)
    lane.markers = planned_row + actual_row
    for planned_marker, actual_marker in pairs:
        if planned_marker and actual_marker:
            lane.slips.append(
                (planned_marker.x, planned_marker.y, actual_marker.x, actual_marker.y)
            )
    return lane


def _spread(row: list[Marker]) -> None:
    """Nudge markers of one row apart (in time order) so none hides another's letter."""
    row.sort(key=lambda m: (m.x, m.when))
    previous = None
    for marker in row:
        marker.true_x = marker.x
        if previous is not None and marker.x < previous + MARKER_GAP:
            marker.x = round(previous + MARKER_GAP, 1)
        previous = marker.x
