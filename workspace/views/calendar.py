"""The project's calendar: its secret address (settings) and the feed calendar apps read."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from lib.htmx import SignedInRequest, signed_in
from releases.access import get_project_for
from releases.calendar import project_calendar
from releases.models import CalendarFeed
from releases.services.calendar import open_calendar_feed, revoke_calendar_feed
from workspace.views.projects import settings_run


@require_GET
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    """No sign-in: the secret in the address is the key. A revoked or rotated one is 404."""
    if len(secret) > (CalendarFeed._meta.get_field("secret").max_length or 0):
        raise Http404
    feed = get_object_or_404(CalendarFeed.objects.select_related("project"), secret=secret)
    response = HttpResponse(
        project_calendar(feed.project, now=timezone.now()),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'inline; filename="{feed.project.slug}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@signed_in
@require_POST
def calendar_feed_open(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    had = CalendarFeed.objects.filter(project=project).exists()
    return settings_run(
        request,
        project,
        anchor="calendar",
        call=lambda: open_calendar_feed(project, by=request.user),
        done=(
            "New calendar address made; the old one no longer works."
            if had
            else "Calendar address made."
        ),
    )


@signed_in
@require_POST
def calendar_feed_revoke(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    return settings_run(
        request,
        project,
        anchor="calendar",
        call=lambda: revoke_calendar_feed(project, by=request.user),
        done="Calendar address revoked; subscribed calendars stop updating.",
    )
