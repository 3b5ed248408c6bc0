"""A project's calendar in iCalendar form: releases' milestones, deploy windows, incidents,
freeze windows.

Calendar apps poll the address every few hours; each event keeps its UID across polls, so an
edited date moves the event instead of adding another.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from icalendar import Calendar, Event

from lib.links import absolute
from releases.models import Incident, Project, Release, Status
from releases.services.freeze_windows import freeze_windows_overlapping

# What the feed covers: recent history and the plans ahead.
PAST = dt.timedelta(weeks=26)
AHEAD = dt.timedelta(weeks=26)
# At most this many releases, newest first: a calendar app reads the whole file every poll.
MOST_RELEASES = 500
# A milestone is a moment; calendars draw it as a short event.
MILESTONE = dt.timedelta(minutes=15)

MILESTONES = (
    ("code_freeze_at", "code-freeze", "code freeze"),
    ("go_no_go_at", "go-no-go", "go/no-go meeting"),
    ("planned_monitoring_end", "monitoring-ends", "monitoring ends"),
)


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "greenlight"


def _event(
    uid: str, summary: str, start: dt.datetime, end: dt.datetime, stamp: dt.datetime
) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{_domain()}")
    event.add("summary", summary)
    event.add("dtstart", start.astimezone(dt.UTC))
    event.add("dtend", end.astimezone(dt.UTC))
    event.add("dtstamp", stamp)
    return event


def _release_events(release: Release, stamp: dt.datetime) -> list[Event]:
    name = f"{release.project.name} {release.version}"
    status = release.get_status_display()
    link = absolute(release.get_absolute_url())
    events = []
    start, end = release.deploy_window_start, release.deploy_window_end
    if start is not None:
        if end is None or end <= start:
            end = start + MILESTONE
        events.append(
            _event(
                f"release-{release.pk}-deploy-window", f"{name}: deploy window", start, end, stamp
            )
        )
    for field, slug, label in MILESTONES:
        moment = getattr(release, field)
        if moment is not None:
            events.append(
                _event(
                    f"release-{release.pk}-{slug}",
                    f"{name}: {label}",
                    moment,
                    moment + MILESTONE,
                    stamp,
                )
            )
    for event in events:
        event.add("url", link)
        event.add("description", f"{name} ({status}): {link}")
        event.add("categories", ["Release"])
    return events + [
        _incident_event(incident, name, link, stamp) for incident in release.incidents.all()
    ]


def _incident_event(incident: Incident, name: str, link: str, stamp: dt.datetime) -> Event:
    """An incident from its start to its resolve; while open, a short event at its start that
    says so (the next poll moves its end once it is resolved). The address needs no sign-in,
    so the incident tool's own link stays on the release page."""
    severity = incident.get_severity_display()
    ended = incident.resolved_at
    event = _event(
        f"incident-{incident.pk}",
        f"{name}: {severity.split(' ')[0]} incident – {incident.title}"
        + ("" if ended else " (open)"),
        incident.started_at,
        ended if ended and ended > incident.started_at else incident.started_at + MILESTONE,
        stamp,
    )
    event.add("url", link)
    event.add(
        "description",
        f"{severity} incident on {name}, " + ("resolved" if ended else "still open") + f": {link}",
    )
    event.add("categories", ["Incident"])
    return event


def project_calendar(project: Project, *, now: dt.datetime) -> bytes:
    """The project's calendar file: every release still planned or done in the last half year
    with its incidents, and every freeze period from half a year back to half a year ahead."""
    calendar = Calendar()
    calendar.add("prodid", "-//Greenlight//Release calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{project.name} releases")
    releases = (
        project.releases.exclude(status=Status.CANCELLED)
        .filter(
            Q(created_at__gte=now - PAST)
            | Q(deploy_window_start__gte=now - PAST)
            | Q(code_freeze_at__gte=now - PAST)
        )
        .select_related("project")
        .prefetch_related("incidents")
        .order_by("-created_at", "-pk")[:MOST_RELEASES]
    )
    for release in releases:
        for event in _release_events(release, now):
            calendar.add_component(event)
    for period in freeze_windows_overlapping(project, now - PAST, now + AHEAD):
        event = _event(
            f"freeze-{period.window.pk}-{period.starts_at:%Y%m%dT%H%M%SZ}",
            f"{project.name}: freeze – {period.reason}",
            period.starts_at,
            period.ends_at,
            now,
        )
        event.add("description", f"No deploys without an override: {period.describe()}")
        event.add("categories", ["Freeze"])
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
