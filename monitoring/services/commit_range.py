"""The commit range: what changed in the code since the previous release, against the scope.

A project turns it on with a GitHub, GitLab or Bitbucket integration whose *compare commits*
setting is on. From the scope lock on, each release compares the previous release's commit with
its own (again whenever its commit changes, and on beat's schedule until it has), lists the
merged pull requests and commits, and flags every change that names no included scope item's
tracker key as **unplanned**: a readiness blocker (``monitoring.scope_checks``) until a scope
change request for it is accepted, or Product and the release manager both accept it as part of
this release.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from monitoring import tasks
from monitoring.crypto import SecretsUnreadable
from monitoring.integrations.base import IntegrationError
from monitoring.integrations.commits import changes, compares_commits
from monitoring.integrations.http import HttpClient
from monitoring.integrations.registry import GIT_HOSTS
from monitoring.models import CommitRange, Integration, RangeChange
from monitoring.scope_checks import covering_items, is_unplanned
from releases.access import (
    REQUEST_SCOPE_CHANGE,
    ReleaseAccess,
    Rule,
    access_for,
    check_person,
    is_person,
)
from releases.events import Actor, log_event
from releases.models import Project, Release, Role, ScopeChangeRequest, ScopeItem, Status
from releases.services.common import lock_release
from releases.services.scope import request_scope_change

logger = logging.getLogger(__name__)

READER = "commit range"
# Releases whose range is still read: from the lock until the deploy starts.
COMPARED_STATUSES = (Status.FROZEN, Status.APPROVED)

COMPARE_COMMITS = Rule(
    lambda a: a.requests_scope_changes or a.edits_scope,
    "Only the people working on the release compare its commits again.",
)
ACCEPT_UNPLANNED = Rule(
    lambda a: is_person(a.user) and (a.is_manager or Role.PRODUCT in a.roles),
    "Only Product and the release manager accept an unplanned change as part of the release.",
)


def compare_integration(project: Project) -> Integration | None:
    """The project's Git host integration that compares commits, if any (the first by name)."""
    for integration in Integration.objects.filter(
        project=project, enabled=True, kind__in=list(GIT_HOSTS)
    ).order_by("name", "pk"):
        if compares_commits(integration.config):
            return integration
    return None


def previous_release(release: Release) -> Release | None:
    """The project's latest released release before this one that names its commit."""
    return (
        Release.objects.filter(
            project_id=release.project_id,
            status=Status.RELEASED,
            created_at__lt=release.created_at,
        )
        .exclude(pk=release.pk)
        .exclude(commit_sha="")
        .order_by("-created_at", "-pk")
        .first()
    )


# --- reading ------------------------------------------------------------------------------------


def read_commit_range(
    release: Release, *, by: Actor, client: HttpClient | None = None
) -> CommitRange:
    """Compare the previous release's commit with this release's and store what changed."""
    if getattr(by, "is_authenticated", False):
        COMPARE_COMMITS.check(access_for(by, release))
    integration = compare_integration(release.project)
    if integration is None:
        raise Refused(
            "No GitHub, GitLab or Bitbucket integration of this project compares commits; "
            "turn on “Compare commits between releases” in its settings."
        )
    head = release.commit_sha
    if not head:
        raise Refused("The release names no commit yet, so there is nothing to compare.")
    base_release = previous_release(release)
    base = base_release.commit_sha if base_release else ""
    found: list[Any] = []
    url, error = "", ""
    if base and base != head:
        host = GIT_HOSTS[integration.kind]
        owns = client is None
        http = client or HttpClient()
        try:
            conn = integration.connection()
            compared = host.compare(conn, base, head, http)
            found, url = changes(host, conn, compared.commits), compared.url
            count = len(compared.commits)
        except IntegrationError as exc:
            error, count = exc.message, 0
        except SecretsUnreadable as exc:
            error, count = str(exc), 0
        finally:
            if owns:
                http.close()
    else:
        count = 0
    return _store(
        release,
        by=by,
        integration=integration,
        base_release=base_release,
        base=base,
        head=head,
        url=url,
        count=count,
        found=found,
        error=error,
    )


def _store(
    release: Release,
    *,
    by: Actor,
    integration: Integration,
    base_release: Release | None,
    base: str,
    head: str,
    url: str,
    count: int,
    found: list[Any],
    error: str,
) -> CommitRange:
    with transaction.atomic():
        release = lock_release(release)
        commit_range, _ = CommitRange.objects.select_for_update().get_or_create(release=release)
        if release.commit_sha != head:
            # The commit changed while the host was asked: this answer is about another one.
            return commit_range
        old_error = commit_range.error
        if error:
            commit_range.error = error[:500]
            commit_range.save(update_fields=["error"])
            if old_error != commit_range.error or is_person(by):
                log_event(
                    release,
                    actor=by,
                    verb="commit_range_failed",
                    summary=f"Could not compare the commits since the previous release: {error}",
                )
            return commit_range
        kept = {
            tuple(old.shas): old
            for old in commit_range.changes.all()
            if old.change_request_id or old.product_accepted_at or old.manager_accepted_at
        }
        commit_range.changes.all().delete()
        rows = []
        for position, change in enumerate(found):
            old = kept.get(tuple(change.shas))
            rows.append(
                RangeChange(
                    commit_range=commit_range,
                    position=position,
                    ref=change.ref[:40],
                    title=change.title[:300],
                    url=change.url[:500],
                    branch=change.branch[:255],
                    author=change.author[:200],
                    shas=list(change.shas),
                    keys=sorted(change.keys),
                    text=change.text,
                    pull_request=change.pull_request,
                    # Decisions on exactly the same commits still hold; one more commit in a
                    # pull request is a change nobody has looked at yet.
                    change_request_id=old.change_request_id if old else None,
                    product_accepted_by_id=old.product_accepted_by_id if old else None,
                    product_accepted_at=old.product_accepted_at if old else None,
                    manager_accepted_by_id=old.manager_accepted_by_id if old else None,
                    manager_accepted_at=old.manager_accepted_at if old else None,
                )
            )
        RangeChange.objects.bulk_create(rows)
        commit_range.integration = integration
        commit_range.base_release = base_release
        commit_range.base_sha, commit_range.head_sha = base, head
        commit_range.url, commit_range.commit_count = url[:500], count
        commit_range.read_at, commit_range.error = timezone.now(), ""
        commit_range.save()
        stored = list(commit_range.changes.select_related("change_request"))
        items = list(release.scope_items.all())
        unplanned = [c for c in stored if is_unplanned(c, items)]
        since = f"since {base_release.version}" if base_release else "(no earlier release)"
        log_event(
            release,
            actor=by,
            verb="commit_range_read",
            summary=f"Compared the commits {since}: {count} commit{'s' if count != 1 else ''}, "
            f"{len(stored)} change{'s' if len(stored) != 1 else ''}, "
            f"{len(unplanned)} unplanned",
            data={"base": base, "head": head, "unplanned": [c.ref for c in unplanned]},
        )
    return commit_range


def read_by_id(release_id: int) -> CommitRange | None:
    release = Release.objects.select_related("project").filter(pk=release_id).first()
    if release is None or release.status not in COMPARED_STATUSES:
        return None
    try:
        return read_commit_range(release, by=READER)
    except Refused as exc:
        logger.info("Commit range of release %s not read: %s", release_id, exc)
        return None


def read_due_ranges() -> int:
    """Beat: ranges of locked releases not read for their current commit, or that failed."""
    due = CommitRange.objects.filter(release__status__in=COMPARED_STATUSES).filter(
        Q(read_at__isnull=True) | ~Q(head_sha=F("release__commit_sha")) | ~Q(error="")
    )
    return sum(1 for commit_range in due if read_by_id(commit_range.release_id) is not None)


def start_at_lock(release: Release) -> None:
    """At the scope lock (inside its transaction): the release gets its range, read after
    the commit. From now on an unread range blocks readiness."""
    if compare_integration(release.project) is None:
        return
    CommitRange.objects.get_or_create(release=release)
    transaction.on_commit(partial(tasks.read_commit_range.delay, release.pk), robust=True)


def read_again(release: Release) -> None:
    """The commit changed: a locked release's range is read again after the commit."""
    if release.status in COMPARED_STATUSES and CommitRange.objects.filter(release=release).exists():
        transaction.on_commit(partial(tasks.read_commit_range.delay, release.pk), robust=True)


# --- clearing an unplanned change ---------------------------------------------------------------


def _change_for_update(change: RangeChange) -> tuple[Release, RangeChange]:
    release = lock_release(change.commit_range.release)
    change = RangeChange.objects.select_for_update().get(pk=change.pk)
    if release.status not in (Status.PLANNING, Status.FROZEN, Status.APPROVED):
        raise Refused(
            f"The release is {release.get_status_display().lower()}; its changes are no longer "
            "decided on."
        )
    return release, change


def accepting_role(access: ReleaseAccess, change: RangeChange) -> str | None:
    """The side of the acceptance a page offers this person, or None."""
    if not ACCEPT_UNPLANNED.allows(access) or change.accepted:
        return None
    user_id = access.user.pk
    sides = []
    if Role.PRODUCT in access.roles:
        sides.append(Role.PRODUCT.value)
    if access.is_manager:
        sides.append(Role.RELEASE_MANAGER.value)
    missing = {
        Role.PRODUCT.value: change.product_accepted_at is None
        and change.manager_accepted_by_id != user_id,
        Role.RELEASE_MANAGER.value: change.manager_accepted_at is None
        and change.product_accepted_by_id != user_id,
    }
    return next((side for side in sides if missing[side]), None)


def accept_unplanned_change(change: RangeChange, *, by: Any, as_role: str) -> RangeChange:
    """Product and the release manager, two people, accept a change as part of this release."""
    release = change.commit_range.release
    ACCEPT_UNPLANNED.check(access_for(by, release))
    if as_role not in (Role.PRODUCT, Role.RELEASE_MANAGER):
        raise ValidationError({"as_role": "Accept as product or release_manager."})
    with transaction.atomic():
        release, change = _change_for_update(change)
        access = access_for(by, release)
        if as_role == Role.PRODUCT and Role.PRODUCT not in access.roles:
            raise NotAllowed("You are not Product on this release, so you cannot accept for it.")
        if as_role == Role.RELEASE_MANAGER and not access.is_manager:
            raise NotAllowed("You are not a release manager on this release.")
        now = timezone.now()
        if as_role == Role.PRODUCT:
            if change.product_accepted_at:
                raise Refused("Product has already accepted this change.")
            if change.manager_accepted_by_id == by.pk:
                raise NotAllowed("You already accepted this change as release manager.")
            change.product_accepted_by, change.product_accepted_at = by, now
        else:
            if change.manager_accepted_at:
                raise Refused("The release manager has already accepted this change.")
            if change.product_accepted_by_id == by.pk:
                raise NotAllowed("You already accepted this change for Product.")
            change.manager_accepted_by, change.manager_accepted_at = by, now
        change.save()
        side = "Product" if as_role == Role.PRODUCT else "The release manager"
        if change.accepted:
            summary = (
                f"{side} accepted unplanned change {change.ref} “{change.title}” as part of "
                "this release; Product and the release manager have both accepted it"
            )
        else:
            waiting = "the release manager" if as_role == Role.PRODUCT else "Product"
            summary = (
                f"{side} accepted unplanned change {change.ref} “{change.title}” as part of "
                f"this release; waiting for {waiting}"
            )
        log_event(
            release,
            actor=by,
            verb="unplanned_change_accepted",
            summary=summary,
            data={"range_change": change.pk, "as_role": as_role, "accepted": change.accepted},
        )
    return change


def request_scope_change_for(change: RangeChange, *, by: Any, reason: str) -> ScopeChangeRequest:
    """Ask, through a scope change request, to add the change to the scope; accepted, it is
    no longer unplanned."""
    release = change.commit_range.release
    check_person(REQUEST_SCOPE_CHANGE, by, release)
    with transaction.atomic():
        release, change = _change_for_update(change)
        if change.change_request_id and change.change_request.state in (
            ScopeChangeRequest.State.PENDING,
            ScopeChangeRequest.State.ACCEPTED,
        ):
            raise Refused("A scope change request for this change already exists.")
        if covering_items(change, release.scope_items.all()):
            raise Refused("A scope item already covers this change.")
        keys = sorted(change.keys)
        proposal = {
            "title": change.title[:200],
            "key": keys[0][:40] if len(keys) == 1 else "",
            "kind": ScopeItem.Kind.FEATURE,
            "url": change.url,
        }
        request = request_scope_change(
            release,
            by=by,
            action=ScopeChangeRequest.Action.ADD,
            reason=reason,
            proposal=proposal,
        )
        change.change_request = request
        change.save(update_fields=["change_request"])
    return request
