"""Scope imported from an issue tracker (Jira, ClickUp, Trello), kept in step with it, and the
Jira version released after the release (opt-in).

Items are created through the scope services: while planning they are added, after the scope
lock each new one becomes a scope change request that Product and the release manager decide,
like any late addition. A sync reads the tracker first, outside any transaction, and changes
nothing when the tracker cannot be read.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import Refused
from monitoring import tasks
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations.base import IntegrationError
from monitoring.integrations.http import HttpClient
from monitoring.integrations.jira import JiraIssues
from monitoring.integrations.registry import TRACKERS
from monitoring.integrations.trackers import TrackerItem, kind_for, parse_kind_map
from monitoring.models import Integration, ScopeSource, TrackedItem
from releases.access import Rule, access_for
from releases.events import Actor, log_event
from releases.models import Release, ScopeChangeRequest, ScopeItem, Status
from releases.services.common import lock_release
from releases.services.scope import add_scope_item, request_scope_change, update_scope_item

logger = logging.getLogger(__name__)

# Who the scheduled sync acts as, in the timeline.
SYNC_ACTOR = "tracker sync"
# Releases whose scope can still follow the tracker.
SYNCED_STATUSES = (Status.PLANNING, Status.FROZEN, Status.APPROVED, Status.DEPLOYING)

IMPORT_SCOPE = Rule(
    lambda a: a.edits_scope,
    "Only Product, developers and the release manager import scope from a tracker.",
)
RELEASE_VERSION_AFTER = dt.timedelta(days=2)


def _check(rule: Rule, by: Any, release: Release) -> None:
    """People and project tokens are asked the rule; the scheduler is let in by its own door."""
    if getattr(by, "is_authenticated", False):
        rule.check(access_for(by, release))


def _person(by: Actor) -> Any:
    return by if getattr(by, "is_authenticated", False) and hasattr(by, "pk") else None


# --- adding and removing a source --------------------------------------------------------------


def add_scope_source(
    release: Release,
    *,
    by: Actor,
    integration: Integration | None,
    source: str,
    query: str = "",
    auto_sync: bool = True,
    release_version: bool = False,
) -> ScopeSource:
    """Import a release's scope from a tracker query; the first sync follows the commit."""
    _check(IMPORT_SCOPE, by, release)
    errors: dict[str, str] = {}
    tracker = TRACKERS.get(integration.kind) if integration is not None else None
    if integration is None or integration.project_id != release.project_id or tracker is None:
        errors["integration"] = "Choose a Jira, ClickUp or Trello integration of this project."
    elif source not in dict(tracker.sources):
        offered = ", ".join(label for _, label in tracker.sources)
        errors["source"] = f"{integration.name} imports from: {offered}."
    query = (query or "").strip()
    if source == ScopeSource.Source.FIX_VERSION and not query:
        query = release.version
    if not query:
        errors["query"] = "Name what to import: a list, tag, view, label or search."
    elif len(query) > 500:
        errors["query"] = "At most 500 characters."
    if release_version and source != ScopeSource.Source.FIX_VERSION:
        errors["release_version"] = "Only a Jira fixVersion is released in the tracker."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        release = lock_release(release)
        if release.status not in SYNCED_STATUSES:
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its scope no longer "
                "follows a tracker."
            )
        if ScopeSource.objects.filter(
            release=release, integration=integration, source=source, query=query
        ).exists():
            raise ValidationError({"query": "The scope is already imported from there."})
        added = ScopeSource.objects.create(
            release=release,
            integration=integration,
            source=source,
            query=query,
            auto_sync=auto_sync,
            release_version=release_version,
            created_by=_person(by),
        )
        log_event(
            release,
            actor=by,
            verb="scope_source_added",
            summary=f"Scope imported from {integration.name}: {added}",
            data={"scope_source": added.pk},
        )
        person = _person(by)
        transaction.on_commit(
            partial(tasks.sync_scope_source.delay, added.pk, person.pk if person else None),
            robust=True,
        )
    return added


def sync_by_id(source_id: int, user_id: int | None) -> SyncResult | None:
    """The task's body: the source's first sync, as whoever added it."""
    source = ScopeSource.objects.select_related("release", "integration").filter(pk=source_id)
    found = source.first()
    if found is None:
        return None
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return sync_scope_source(found, by=user or SYNC_ACTOR)
    except Refused as exc:
        logger.info("Scope source %s not synced: %s", source_id, exc)
        return None


def remove_scope_source(source: ScopeSource, *, by: Actor) -> None:
    """Stop following a tracker query; the items it brought stay in the scope."""
    _check(IMPORT_SCOPE, by, source.release)
    with transaction.atomic():
        release = lock_release(source.release)
        source = ScopeSource.objects.select_for_update().get(pk=source.pk)
        label = f"{source.integration.name}: {source}"
        source.delete()
        log_event(
            release,
            actor=by,
            verb="scope_source_removed",
            summary=f"Scope no longer imported from {label}",
        )


# --- syncing ------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return self.error
        parts = []
        if self.added:
            parts.append(f"added {', '.join(self.added)}")
        if self.requested:
            parts.append(f"asked to add {', '.join(self.requested)} (scope change requests)")
        if self.updated:
            parts.append(f"updated {', '.join(self.updated)}")
        return "; ".join(parts) or "nothing changed"


def read_items(
    source: ScopeSource, client: HttpClient | None = None
) -> tuple[list[TrackerItem], dict[str, str]]:
    """The tracker's items for a source, and the integration's kind map. Raises
    IntegrationError (SecretsUnreadable as a ConfigError-like error) when it cannot."""
    tracker = TRACKERS[source.integration.kind]
    conn = source.integration.connection()
    kind_map = parse_kind_map(conn.config.get("kind_map"))
    owns = client is None
    client = client or HttpClient()
    try:
        return tracker.items(conn, source.source, source.query, client), kind_map
    finally:
        if owns:
            client.close()


def sync_scope_source(
    source: ScopeSource, *, by: Actor, client: HttpClient | None = None
) -> SyncResult:
    """Bring the release's scope in step with the tracker: new items are added (or, after the
    scope lock, requested as scope changes), titles follow while planning, every item's status
    is recorded. A tracker that cannot be read changes nothing but the source's error."""
    release = source.release
    _check(IMPORT_SCOPE, by, release)
    if not source.integration.enabled:
        return _failed(source, by=by, error=f"{source.integration.name} is disabled.")
    try:
        items, kind_map = read_items(source, client)
    except IntegrationError as exc:
        return _failed(source, by=by, error=exc.message)
    except SecretsUnreadable as exc:
        return _failed(source, by=by, error=str(exc))
    result = SyncResult()
    now = timezone.now()
    with transaction.atomic():
        release = lock_release(release)
        source = ScopeSource.objects.select_for_update().get(pk=source.pk)
        if release.status not in SYNCED_STATUSES:
            raise Refused(
                f"The release is {release.get_status_display().lower()}; its scope no longer "
                "follows a tracker."
            )
        by_key = {item.key.upper(): item for item in release.scope_items.all() if item.key}
        for found in items:
            existing = by_key.get(found.key.upper())
            if existing is None:
                existing = _add(release, source, found, kind_map, by=by, result=result)
            elif (
                not release.scope_locked
                and found.title
                and existing.title != found.title
                and existing.state == ScopeItem.State.INCLUDED
            ):
                update_scope_item(existing, by=by, title=found.title)
                result.updated.append(found.key)
            if existing is not None:
                _track(release, source, existing, found, now)
        if source.source == ScopeSource.Source.FIX_VERSION:
            ids = {vid for item in items for vid, name in item.versions if name == source.query}
            if len(ids) == 1:
                source.version_id = ids.pop()
        error_cleared = bool(source.last_error)
        source.last_synced_at, source.last_error = now, ""
        source.save(update_fields=["last_synced_at", "last_error", "version_id"])
        if _person(by) is not None or result.added or result.requested or error_cleared:
            log_event(
                release,
                actor=by,
                verb="scope_synced",
                summary=f"Synced the scope with {source.integration.name} ({source}): "
                f"{result.summary()}",
                data={"scope_source": source.pk},
            )
    return result


def _failed(source: ScopeSource, *, by: Actor, error: str) -> SyncResult:
    with transaction.atomic():
        release = lock_release(source.release)
        source = ScopeSource.objects.select_for_update().get(pk=source.pk)
        changed = source.last_error != error[:500]
        source.last_error = error[:500]
        source.save(update_fields=["last_error"])
        # Logged once per new error: a scheduled sync repeating it adds nothing.
        if changed or _person(by) is not None:
            log_event(
                release,
                actor=by,
                verb="scope_sync_failed",
                summary=f"Could not sync the scope with {source.integration.name} "
                f"({source}): {error}",
                data={"scope_source": source.pk},
            )
    return SyncResult(error=error)


def _owner(release: Release, email: str) -> Any:
    if not email:
        return None
    return (
        get_user_model()
        .objects.filter(email__iexact=email, memberships__project=release.project)
        .order_by("pk")
        .first()
    )


def _add(
    release: Release,
    source: ScopeSource,
    found: TrackerItem,
    kind_map: dict[str, str],
    *,
    by: Actor,
    result: SyncResult,
) -> ScopeItem | None:
    owner = _owner(release, found.owner_email)
    fields = {
        "key": found.key[:40],
        "url": found.url,
        "kind": kind_for(found.types, kind_map),
    }
    if not release.scope_locked:
        item = add_scope_item(release, by=by, title=found.title, owner=owner, **fields)
        result.added.append(found.key)
        return item
    asked = ScopeChangeRequest.objects.filter(
        release=release, action=ScopeChangeRequest.Action.ADD, proposal__key=fields["key"]
    ).exclude(state=ScopeChangeRequest.State.WITHDRAWN)
    if asked.exists() or release.status not in (Status.FROZEN, Status.APPROVED):
        # Already asked (and maybe rejected: the people decided), or too late to ask.
        return None
    request_scope_change(
        release,
        by=by,
        action=ScopeChangeRequest.Action.ADD,
        reason=f"Listed in {source.integration.name} ({source}) after the scope was locked.",
        proposal={"title": found.title, "owner": owner.pk if owner else None, **fields},
    )
    result.requested.append(found.key)
    return None


def _track(
    release: Release, source: ScopeSource, item: ScopeItem, found: TrackerItem, now: dt.datetime
) -> None:
    TrackedItem.objects.update_or_create(
        scope_item=item,
        defaults={
            "release": release,
            "source": source,
            "external_id": found.external_id[:100],
            "status": found.status[:100],
            "done": found.done,
            "tracker_title": found.title[:200],
            "synced_at": now,
        },
    )


def sync_due_sources(client: HttpClient | None = None) -> int:
    """The scheduled sync: every source set to follow its tracker, of every release whose scope
    can still change. Returns how many were synced."""
    due = ScopeSource.objects.filter(
        auto_sync=True, release__status__in=SYNCED_STATUSES, integration__enabled=True
    ).select_related("release", "integration")
    count = 0
    for source in due:
        try:
            sync_scope_source(source, by=SYNC_ACTOR, client=client)
        except (Refused, ValidationError) as exc:
            logger.info("Scope source %s not synced: %s", source.pk, exc)
            continue
        count += 1
    return count


# --- the Jira version after the release ---------------------------------------------------------


def release_versions_later(release: Release) -> None:
    """On the release's release (inside its transaction): the opted-in Jira versions are
    released after the commit."""
    if ScopeSource.objects.filter(release=release, release_version=True).exists():
        transaction.on_commit(
            partial(tasks.release_tracker_versions.delay, release.pk), robust=True
        )


def release_tracker_versions(release: Release, *, client: HttpClient | None = None) -> int:
    """Mark released in Jira the fixVersions this release imported with the option on."""
    if release.status != Status.RELEASED:
        return 0
    due = ScopeSource.objects.filter(
        release=release,
        release_version=True,
        version_released_at__isnull=True,
        source=ScopeSource.Source.FIX_VERSION,
    ).select_related("integration")
    done = 0
    for source in due:
        on = timezone.localdate(release.released_at or timezone.now())
        error = ""
        if not source.version_id:
            error = f"no issue of {source} names the version, so its id is unknown"
        else:
            tracker = TRACKERS.get(source.integration.kind)
            owns = client is None
            http = client or HttpClient()
            try:
                if not isinstance(tracker, JiraIssues):
                    raise Refused("Only Jira versions are released.")
                conn = source.integration.connection()
                tracker.release_version(conn, source.version_id, on, http)
            except IntegrationError as exc:
                error = exc.message
            except (SecretsUnreadable, Refused) as exc:
                error = str(exc)
            finally:
                if owns:
                    http.close()
        with transaction.atomic():
            locked = ScopeSource.objects.select_for_update().get(pk=source.pk)
            if locked.version_released_at is not None:
                continue
            if error:
                if locked.last_error != error[:500]:
                    locked.last_error = error[:500]
                    locked.save(update_fields=["last_error"])
                    log_event(
                        release,
                        actor=SYNC_ACTOR,
                        verb="tracker_version_failed",
                        summary=f"Could not release {source.query} in "
                        f"{source.integration.name}: {error}",
                        data={"scope_source": source.pk},
                    )
                continue
            locked.version_released_at, locked.last_error = timezone.now(), ""
            locked.save(update_fields=["version_released_at", "last_error"])
            log_event(
                release,
                actor=SYNC_ACTOR,
                verb="tracker_version_released",
                summary=f"Released version {source.query} in {source.integration.name}",
                data={"scope_source": source.pk},
            )
            done += 1
    return done


def release_by_id(release_id: int) -> int:
    release = Release.objects.filter(pk=release_id).first()
    return release_tracker_versions(release) if release is not None else 0


def release_due_versions(client: HttpClient | None = None) -> int:
    """Beat's retry: versions of releases released in the last two days still unreleased."""
    since = timezone.now() - RELEASE_VERSION_AFTER
    releases = Release.objects.filter(
        status=Status.RELEASED,
        released_at__gte=since,
        scope_sources__release_version=True,
        scope_sources__version_released_at__isnull=True,
    ).distinct()
    return sum(release_tracker_versions(release, client=client) for release in releases)
