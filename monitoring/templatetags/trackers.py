"""The tracker import and the commit range on release pages, as template tags, so that the
pages that show them include one line each:

- ``{% release_trackers release access %}``: the release page's "Trackers and commits" card;
- ``{% release_unplanned_review release %}``: the review's list of changes outside the scope;
- ``{% new_release_scope_import %}``: the new-release form's optional import fields.
"""

from __future__ import annotations

from typing import Any

from django import template

from monitoring.integrations.commits import compares_commits
from monitoring.integrations.registry import GIT_HOSTS, TRACKERS
from monitoring.models import Integration
from monitoring.scope_checks import commit_range_of, covering_items, is_unplanned, not_done
from monitoring.services import commit_range
from monitoring.services.trackers import IMPORT_SCOPE
from monitoring.views.trackers import PREFIX, ScopeSourceForm, new_release_form
from releases.access import REQUEST_SCOPE_CHANGE, ReleaseAccess
from releases.models import Release, Status

register = template.Library()


def _changes(release: Release, access: ReleaseAccess | None) -> list[dict[str, Any]]:
    found = commit_range_of(release)
    if found is None:
        return []
    items = list(release.scope_items.all())
    open_for_decisions = release.status in (Status.PLANNING, Status.FROZEN, Status.APPROVED)
    rows = []
    for change in found.changes.select_related(
        "change_request", "product_accepted_by", "manager_accepted_by"
    ):
        unplanned = is_unplanned(change, items)
        rows.append(
            {
                "change": change,
                "covered_by": [item.key for item in covering_items(change, items)],
                "unplanned": unplanned,
                "accept_as": commit_range.accepting_role(access, change)
                if access is not None and unplanned and open_for_decisions
                else None,
                "can_request": access is not None
                and unplanned
                and release.status in (Status.FROZEN, Status.APPROVED)
                and REQUEST_SCOPE_CHANGE.allows(access)
                and not change.change_request_id,
            }
        )
    return rows


@register.inclusion_tag("monitoring/_release_trackers.html", takes_context=True)
def release_trackers(context: Any, release: Release, access: ReleaseAccess) -> dict[str, Any]:
    sources = list(release.scope_sources.select_related("integration"))
    tracked = {t.scope_item_id: t for t in release.tracked_items.all()}
    tracked_rows = [
        (item, tracked[item.pk]) for item in release.scope_items.all() if item.pk in tracked
    ]
    # One read of the project's integrations answers both: is there a tracker to import from,
    # and does a Git host compare commits.
    connected = list(
        Integration.objects.filter(
            project_id=release.project_id, enabled=True, kind__in=[*TRACKERS, *GIT_HOSTS]
        )
    )
    can_import = (
        IMPORT_SCOPE.allows(access)
        and release.status in (Status.PLANNING, Status.FROZEN, Status.APPROVED)
        and any(i.kind in TRACKERS for i in connected)
    )
    found = commit_range_of(release)
    compares = any(i.kind in GIT_HOSTS and compares_commits(i.config) for i in connected)
    page = context.get("page")
    return {
        "release": release,
        "access": access,
        "csrf_token": context.get("csrf_token"),
        "show": bool(sources or tracked_rows or found or can_import or compares),
        "sources": sources,
        "tracked_rows": tracked_rows,
        "not_done": {item.pk for item, _ in not_done(release)},
        "form": ScopeSourceForm(projects=[release.project], prefix=PREFIX) if can_import else None,
        "can_import": can_import,
        "commit_range": found,
        "compares": compares,
        "can_compare": compares
        and commit_range.COMPARE_COMMITS.allows(access)
        and release.status in (*commit_range.COMPARED_STATUSES, Status.PLANNING),
        "changes": _changes(release, access),
        "flashes": getattr(page, "flashes", {}).get("trackers", []) if page else [],
    }


@register.inclusion_tag("monitoring/_unplanned_review.html")
def release_unplanned_review(release: Release) -> dict[str, Any]:
    """Changes that came in outside the planned scope: still unplanned, accepted as part of
    the release, or added through a scope change request."""
    rows = [
        row
        for row in _changes(release, None)
        if row["unplanned"] or row["change"].accepted or row["change"].change_request_id
    ]
    return {"rows": rows, "commit_range": commit_range_of(release)}


@register.inclusion_tag("monitoring/_new_release_import.html", takes_context=True)
def new_release_scope_import(context: Any) -> dict[str, Any]:
    """Optional fields of the new-release form: import the scope from a tracker on creation."""
    form = context.get("form")
    projects = list(form.fields["project"].queryset) if form and "project" in form.fields else []
    request = context.get("request")
    data = request.POST if request is not None and request.method == "POST" else None
    import_form = new_release_form(data, projects)
    return {"form": import_form, "show": import_form.fields["integration"].queryset.exists()}
