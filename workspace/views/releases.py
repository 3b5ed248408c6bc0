"""Creating and editing a release, its page, sections, live refresh, events and notes file."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, TypedDict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET
from django_htmx.http import trigger_client_event

from lib.errors import NotAllowed, Refused
from lib.forms import shown_fields
from lib.htmx import SignedInRequest, signed_in
from monitoring.views.trackers import import_on_creation
from releases import access as rules
from releases import forms
from releases.access import (
    can_create_release,
    get_release_for,
    visible_projects,
    visible_releases,
)
from releases.filters import ReleaseListFilter
from releases.models import (
    Project,
    Release,
    ReleaseKind,
    Status,
)
from releases.release_notes import render_release_notes
from releases.services.releases import create_release, update_release
from workspace.dashboard import filter_projects, listed_releases, projects_key
from workspace.release_cache import page_response, release_page, section_response
from workspace.release_page import SECTIONS
from workspace.release_version import release_token


class ListedRelease(TypedDict):
    """One row of the releases list, ready to show (a dict: the template reads it fastest)."""

    pk: int
    url: str
    name: str
    title: str
    kind: str
    status: str
    status_label: str
    listed_at: str  # ISO 8601, in the current time zone
    listed_day: str


def listed_row(row: dict[str, Any]) -> ListedRelease:
    local = timezone.localtime(row["listed_on"])
    return ListedRelease(
        pk=row["pk"],
        url=reverse("release_detail", args=[row["pk"]]),
        name=f"{row['project__name']} {row['version']}",
        title=row["title"],
        kind=ReleaseKind(row["kind"]).label,
        status=row["status"],
        status_label=Status(row["status"]).label,
        listed_at=local.isoformat(),
        listed_day=local.date().isoformat(),
    )


def _empty_filters(projects: list[Project]) -> Form:
    return ReleaseListFilter(None, queryset=Release.objects.none(), projects=projects).form


def _creatable_projects(user: Any) -> list[Project]:
    return [p for p in visible_projects(user) if can_create_release(user, p)]


@signed_in
@require_GET
def release_list(request: SignedInRequest) -> HttpResponse:
    """Every release of my projects in any status, newest first: search, filters, pages."""
    projects = filter_projects(request)
    query = request.GET.copy()
    query.pop("page", None)
    key = (ReleaseListFilter, projects_key(projects))
    if query:
        filters = ReleaseListFilter(
            request.GET, queryset=visible_releases(request.user), projects=projects
        )
        valid = filters.is_valid()
        fields = shown_fields(filters.form, key=key, bound=True)
    else:
        # Nothing searched: the list as it opens, below the filter bar as it was last rendered.
        filters, valid = None, True
        fields = shown_fields(partial(_empty_filters, projects), key=key, bound=False)
    page = listed_releases(request.user, filters, valid, request.GET.get("page"))
    context = {
        "searched": filters is not None,
        "filter_fields": fields,
        "page": page,
        "rows": [listed_row(row) for row in page.object_list],
        "query": query.urlencode(),
    }
    return render(request, "releases/release_list.html", context, status=200 if valid else 400)


@signed_in
def release_create(request: SignedInRequest) -> HttpResponse:
    projects = _creatable_projects(request.user)
    if not projects:
        raise Http404("You manage no project, so you cannot create releases.")
    choices = Project.objects.filter(pk__in=[p.pk for p in projects])
    initial = {}
    slug = request.GET.get("project")
    if slug:
        initial["project"] = next((p for p in projects if p.slug == slug), None)
    form = forms.NewReleaseForm(request.POST or None, projects=choices, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            project, version = data.pop("project"), data.pop("version")
            try:
                release = create_release(project, by=request.user, version=version, **data)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            else:
                messages.success(request, f"Release {release.version} created.")
                note = import_on_creation(release, data=request.POST, by=request.user)
                if note:
                    messages.warning(request, note)
                return redirect(release)
        status = 422
    return render(
        request, "releases/release_form.html", {"form": form, "creating": True}, status=status
    )


@signed_in
def release_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    if not rules.EDIT_RELEASE.allows(access):
        return render(
            request,
            "releases/release_form.html",
            {"release": release, "problem": rules.EDIT_RELEASE.refusal},
            status=403,
        )
    names = list(forms.ReleaseForm.base_fields)
    initial = {name: getattr(release, name) for name in names}
    form = forms.ReleaseForm(
        request.POST or None, initial=initial, kind_locked=release.scope_locked
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = {n: form.cleaned_data[n] for n in names if n in form.changed_data}
            try:
                update_release(release, by=request.user, **changes)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            except (Refused, NotAllowed) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Release updated." if changes else "Nothing changed.")
                return redirect(release)
        status = 422
    return render(
        request, "releases/release_form.html", {"form": form, "release": release}, status=status
    )


@signed_in
def release_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    return page_response(request, release_page(request, pk))


@signed_in
@require_GET
def release_section(request: SignedInRequest, pk: int, section: str) -> HttpResponse:
    if section not in SECTIONS:
        raise Http404("No such section.")
    return section_response(request, release_page(request, pk), section)


@signed_in
@require_GET
def release_pulse(request: SignedInRequest, pk: int) -> HttpResponse:
    """204 while nothing changed on the release; otherwise a fresh pulse and a refresh."""
    release, _access = get_release_for(request.user, pk)
    token = release_token(release.pk)
    if request.GET.get("v") == token:
        return HttpResponse(status=204)
    response = render(request, "releases/_pulse.html", {"token": token, "url": request.path})
    return trigger_client_event(response, "gl:changed", {})


@signed_in
def release_events(request: SignedInRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    events = release.events.select_related("actor")
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "releases/events.html", {"release": release, "page": page})


@signed_in
@require_GET
def release_notes(request: SignedInRequest, pk: int) -> HttpResponse:
    """The release notes as a Markdown file, for a changelog, a wiki or an email."""
    release, _access = get_release_for(
        request.user,
        pk,
        queryset=Release.objects.select_related("project").prefetch_related("scope_items"),
    )
    response = HttpResponse(
        render_release_notes(release), content_type="text/markdown; charset=utf-8"
    )
    # Versions keep their dots (2.4.1); anything a file name should not hold becomes a dash.
    name = re.sub(r"[^\w.]+", "-", f"{release.project.slug}-{release.version}").strip("-.")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{name}-release-notes.md"
    )
    return response
