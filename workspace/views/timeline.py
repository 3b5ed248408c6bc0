"""The timeline of releases and freeze windows."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from lib.htmx import SignedInRequest, signed_in
from releases import timeline as tl
from releases.access import (
    visible_projects,
    visible_releases,
)


@signed_in
def timeline(request: SignedInRequest) -> HttpResponse:
    now = timezone.now()
    start_day = tl.first_day(request.GET.get("from", ""), now=now)
    start = dt.datetime.combine(start_day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(weeks=tl.WEEKS_SHOWN)
    # Each project's calendar address comes with it (no query of its own for the feeds).
    projects = list(visible_projects(request.user).select_related("calendar_feed"))
    releases = visible_releases(request.user)
    project = request.GET.get("project", "")
    if project:
        # Only a project the person sees can be asked for; anything else (a typo, bytes the
        # database refuses) shows nothing.
        visible = next((p for p in projects if p.slug == project), None)
        releases = releases.filter(project=visible) if visible else releases.none()
    page = Paginator(tl.releases_in_range(releases, start, end), tl.LANES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    chart = tl.build(list(page.object_list), start, end, now=now)
    return render(
        request,
        "releases/timeline.html",
        {
            "chart": chart,
            "page": page,
            "legend": tl.MILESTONES
            + [(None, label, letter, None, None) for _n, label, letter in tl.ENDINGS],
            "projects": projects,
            "project": project,
            "calendars": [
                (p, getattr(p, "calendar_feed", None))
                for p in projects
                if not project or p.slug == project
            ],
            "earlier": (start_day - dt.timedelta(weeks=4)).isoformat(),
            "later": (start_day + dt.timedelta(weeks=4)).isoformat(),
            "today": (now - dt.timedelta(weeks=tl.WEEKS_BEFORE_TODAY)).date().isoformat(),
        },
    )
