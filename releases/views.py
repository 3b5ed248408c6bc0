"""HTML views of the release workspace: thin, each a permission check and one service call."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from releases.models import Project, Release
from releases.permissions import get_release_for, is_project_member
from releases.readiness import compute_readiness, with_readiness_data


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    releases = with_readiness_data(Release.objects.active_for(request.user)).order_by(
        "deploy_window_start", "project__name", "version"
    )
    rows = [(release, compute_readiness(release)) for release in releases]
    return render(request, "releases/dashboard.html", {"rows": rows})


@login_required
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(
        request.user, pk, queryset=with_readiness_data(Release.objects.all())
    )
    events = release.events.select_related("actor")[:50]
    return render(
        request,
        "releases/detail.html",
        {
            "release": release,
            "access": access,
            "readiness": compute_readiness(release),
            "events": events,
        },
    )


@login_required
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    if not is_project_member(request.user, project):
        return HttpResponse(status=404)
    return render(request, "releases/project_settings.html", {"project": project})
