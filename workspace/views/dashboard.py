"""The dashboard and its live refresh."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import trigger_client_event

from lib.forms import shown_fields
from lib.htmx import SignedInRequest, signed_in
from releases import forms
from workspace import dashboard as dash
from workspace.dashboard import projects_key


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@signed_in
def dashboard(request: SignedInRequest) -> HttpResponse:
    projects = dash.filter_projects(request)
    filters = forms.DashboardFilter(request.GET or None, projects=projects)
    page = dash.listed_page(request.user, filters, request.GET.get("page"))
    shown = list(page.object_list)
    token = dash.change_token(releases=shown)
    context = {
        "rows": dash.render_rows(shown),
        "panel": dash.render_panel(request.user, dash.panel_token(releases=shown)),
        "page": page,
        "filters": filters,
        "filter_fields": shown_fields(filters, key=(forms.DashboardFilter, projects_key(projects))),
        "projects": projects,
        "token": token,
        "query": _query_without(request, "page"),
        "can_create": dash.person_summary(request)["can_create"],
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "releases/dashboard.html#live", context)
    return render(request, "releases/dashboard.html", context)


@signed_in
@require_GET
def dashboard_pulse(request: SignedInRequest) -> HttpResponse:
    """204 while nothing changed; otherwise a fresh pulse that makes the page refresh."""
    token = dash.change_token()
    if request.GET.get("v") == token:
        return HttpResponse(status=204)
    response = render(request, "releases/_pulse.html", {"token": token, "url": request.path})
    return trigger_client_event(response, "gl:changed", {})


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()
