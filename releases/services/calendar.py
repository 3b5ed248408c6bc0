"""The project's calendar address: opening, rotating and revoking its secret."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction

from releases import access as rules
from releases.events import log_project_event
from releases.models import CalendarFeed, Project, ProjectEventKind


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def open_calendar_feed(project: Project, *, by: Any) -> CalendarFeed:
    """Give the project a calendar address, or a new secret for the one it has (the old
    address stops answering at once)."""
    rules.MANAGE_CALENDAR_FEED.check(by, project)
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(project=project).first()
        action = "rotated" if feed else "created"
        if feed is None:
            feed = CalendarFeed(project=project)
        feed.secret = new_secret()
        feed.created_by = by if rules.is_person(by) else None
        feed.save()
        # Never the secret itself: the audit log is read by every member.
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.CALENDAR_FEED,
            action=action,
            summary=f"Calendar address {action}",
            before="active" if action == "rotated" else None,
            after="active",
        )
    return feed


def revoke_calendar_feed(project: Project, *, by: Any) -> bool:
    """Remove the project's calendar address; subscribed calendars stop updating. False when
    there was none."""
    rules.MANAGE_CALENDAR_FEED.check(by, project)
    with transaction.atomic():
        deleted, _ = CalendarFeed.objects.filter(project=project).delete()
        if deleted:
            log_project_event(
                project,
                actor=by,
                kind=ProjectEventKind.CALENDAR_FEED,
                action="revoked",
                summary="Calendar address revoked",
                before="active",
                after="revoked",
            )
    return bool(deleted)
