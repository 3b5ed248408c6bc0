"""The release page's doors to the tracker import and the commit range: each view fetches,
makes one service call and redirects back to the release page with what happened."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from monitoring.integrations.registry import TRACKERS
from monitoring.models import Integration, RangeChange, ScopeSource
from monitoring.services import commit_range, trackers
from releases.access import get_release_for
from releases.models import Project, Release

SECTION = "section-trackers"
# The import's fields on the new-release form.
PREFIX = "tracker"


class ScopeSourceForm(forms.Form):
    """Which tracker query a release's scope is imported from."""

    integration = forms.ModelChoiceField(queryset=Integration.objects.none(), label="Tracker")
    source = forms.ChoiceField(choices=ScopeSource.Source.choices, label="Import")
    query = forms.CharField(
        required=False,
        max_length=500,
        label="Version, search, list, tag, view or label",
        help_text="A Jira fixVersion is the release's version when left empty.",
    )
    auto_sync = forms.BooleanField(
        required=False, initial=True, label="Keep in step with the tracker (every 15 minutes)"
    )
    release_version = forms.BooleanField(
        required=False, label="Release the Jira version once this release is released"
    )

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["integration"]
        field.queryset = trackers_of(projects)
        if len(projects) > 1:
            field.label_from_instance = lambda i: f"{i.project.name} · {i.name}"
        else:
            field.label_from_instance = lambda i: i.name

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "integration": data["integration"],
            "source": data["source"],
            "query": data["query"],
            "auto_sync": data["auto_sync"],
            "release_version": data["release_version"],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000)


def new_release_form(data: Any, projects: list[Project]) -> ScopeSourceForm:
    """The new-release form's optional import: no tracker chosen, nothing imported."""
    form = ScopeSourceForm(data, projects=projects, prefix=PREFIX, initial={"auto_sync": True})
    form.fields["integration"].required = False
    form.fields["integration"].empty_label = "No import"
    form.fields["integration"].label = "Import the scope from"
    return form


def import_on_creation(release: Release, *, data: Any, by: Any) -> str | None:
    """After the new-release page created a release: its import, if one was asked for. Returns
    why nothing was imported, for the page to say."""
    form = new_release_form(data, [release.project])
    if not form.is_valid():
        errors = "; ".join(m for ms in form.errors.values() for m in ms)
        return f"The scope was not imported: {errors}"
    if form.cleaned_data["integration"] is None:
        return None
    try:
        trackers.add_scope_source(release, by=by, **form.service_arguments())
    except ValidationError as exc:
        return "The scope was not imported: " + "; ".join(
            m for ms in exc.message_dict.values() for m in ms
        )
    except (NotAllowed, Refused) as exc:
        return f"The scope was not imported: {exc}"
    return None


def trackers_of(projects: list[Project]) -> Any:
    return (
        Integration.objects.filter(project__in=projects, kind__in=list(TRACKERS), enabled=True)
        .select_related("project")
        .order_by("project__name", "name")
    )


def _back(release: Release) -> HttpResponseRedirect:
    return HttpResponseRedirect(release.get_absolute_url() + "#sec-trackers")


def _say(request: HttpRequest, exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        text = "; ".join(m for ms in exc.message_dict.values() for m in ms)
    else:
        text = str(exc)
    messages.error(request, text, extra_tags=SECTION)


@login_required
@require_POST
def scope_source_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    form = ScopeSourceForm(request.POST, projects=[release.project], prefix=PREFIX)
    if not form.is_valid():
        _say(request, ValidationError(form.errors))
        return _back(release)
    try:
        source = trackers.add_scope_source(release, by=request.user, **form.service_arguments())
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (ValidationError, Refused) as exc:
        _say(request, exc)
    else:
        messages.success(request, f"Importing the scope from {source}.", extra_tags=SECTION)
    return _back(release)


def _source(request: HttpRequest, pk: int, source_pk: int) -> tuple[Release, ScopeSource]:
    release, _access = get_release_for(request.user, pk)
    return release, get_object_or_404(
        ScopeSource.objects.select_related("release", "integration"), release=release, pk=source_pk
    )


@login_required
@require_POST
def scope_source_sync(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    release, source = _source(request, pk, source_pk)
    try:
        result = trackers.sync_scope_source(source, by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except Refused as exc:
        _say(request, exc)
    else:
        level = messages.ERROR if result.error else messages.SUCCESS
        messages.add_message(
            request, level, f"Synced {source}: {result.summary()}.", extra_tags=SECTION
        )
    return _back(release)


@login_required
@require_POST
def scope_source_remove(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    release, source = _source(request, pk, source_pk)
    try:
        trackers.remove_scope_source(source, by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, f"The scope no longer follows {source}.", extra_tags=SECTION)
    return _back(release)


@login_required
@require_POST
def commit_range_read(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    try:
        found = commit_range.read_commit_range(release, by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except Refused as exc:
        _say(request, exc)
    else:
        if found.error:
            messages.error(request, found.error, extra_tags=SECTION)
        else:
            messages.success(request, "The commits were compared again.", extra_tags=SECTION)
    return _back(release)


def _change(request: HttpRequest, pk: int, change_pk: int) -> tuple[Release, RangeChange]:
    release, _access = get_release_for(request.user, pk)
    return release, get_object_or_404(
        RangeChange.objects.select_related("commit_range__release", "change_request"),
        commit_range__release=release,
        pk=change_pk,
    )


@login_required
@require_POST
def unplanned_change_accept(request: HttpRequest, pk: int, change_pk: int) -> HttpResponse:
    release, change = _change(request, pk, change_pk)
    try:
        commit_range.accept_unplanned_change(
            change, by=request.user, as_role=request.POST.get("as_role", "")
        )
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (ValidationError, Refused) as exc:
        _say(request, exc)
    else:
        messages.success(
            request, f"Accepted {change.ref} as part of the release.", extra_tags=SECTION
        )
    return _back(release)


@login_required
@require_POST
def unplanned_change_request(request: HttpRequest, pk: int, change_pk: int) -> HttpResponse:
    release, change = _change(request, pk, change_pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        _say(request, ValidationError({"reason": "Say why the change belongs in the release."}))
        return _back(release)
    try:
        commit_range.request_scope_change_for(
            change, by=request.user, reason=form.cleaned_data["reason"]
        )
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (ValidationError, Refused) as exc:
        _say(request, exc)
    else:
        messages.success(request, f"Scope change requested for {change.ref}.", extra_tags=SECTION)
    return _back(release)
