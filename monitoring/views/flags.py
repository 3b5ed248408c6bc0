"""The release page's feature-flag section: name a scope item's flag, read the flags now,
switch one off, and bind a rollback trigger to a flag. Each view is one service call, then back
to the release page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from monitoring.models import Check, FeatureFlag, Integration
from monitoring.services import flags
from releases.access import get_release_for
from releases.models import Release, ScopeItem


def _back(release: Release) -> HttpResponse:
    return redirect(release.get_absolute_url() + "#sec-flags")


def _run(
    request: HttpRequest, release: Release, action: Callable[[], object], done: str
) -> HttpResponse:
    try:
        action()
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return _back(release)


def _pk(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@login_required
@require_POST
def flag_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    item = ScopeItem.objects.filter(release=release, pk=_pk(request.POST.get("scope_item"))).first()
    integration = Integration.objects.filter(
        project=release.project, pk=_pk(request.POST.get("integration"))
    ).first()
    if item is None:
        messages.error(request, "Choose a scope item of this release.")
        return _back(release)
    return _run(
        request,
        release,
        lambda: flags.bind_flag(
            item, by=request.user, integration=integration, key=request.POST.get("key", "")
        ),
        "The feature flag is named; its state is read within a minute.",
    )


@login_required
@require_POST
def flag_remove(request: HttpRequest, pk: int, flag_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    flag = get_object_or_404(FeatureFlag, scope_item__release=release, pk=flag_pk)
    return _run(
        request, release, lambda: flags.unbind_flag(flag, by=request.user), "The flag is removed."
    )


@login_required
@require_POST
def flag_off(request: HttpRequest, pk: int, flag_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    flag = get_object_or_404(
        FeatureFlag.objects.select_related("integration", "scope_item__release"),
        scope_item__release=release,
        pk=flag_pk,
    )
    return _run(
        request,
        release,
        lambda: flags.turn_flag_off(flag, by=request.user, reason=request.POST.get("reason", "")),
        f"Flag {flag.key} is being switched off.",
    )


@login_required
@require_POST
def flags_read(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    return _run(
        request,
        release,
        lambda: flags.request_flag_read(release, by=request.user),
        "The flags will be read within a few seconds.",
    )


@login_required
@require_POST
def flag_trigger_add(request: HttpRequest, pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    check = Check.objects.filter(release=release, pk=_pk(request.POST.get("check"))).first()
    flag = (
        FeatureFlag.objects.filter(scope_item__release=release, pk=_pk(request.POST.get("flag")))
        .select_related("scope_item")
        .first()
    )
    return _run(
        request,
        release,
        lambda: flags.add_flag_trigger(
            release,
            by=request.user,
            check=check,
            flag=flag,
            mode=request.POST.get("mode", ""),
            description=request.POST.get("description", ""),
        ),
        "The trigger is added.",
    )


release = "releases/<int:pk>/flags/"
urlpatterns = [
    path(release, flag_add, name="release_flag_add"),
    path(release + "read/", flags_read, name="release_flags_read"),
    path(release + "trigger/", flag_trigger_add, name="release_flag_trigger_add"),
    path(release + "<int:flag_pk>/remove/", flag_remove, name="release_flag_remove"),
    path(release + "<int:flag_pk>/off/", flag_off, name="release_flag_off"),
]
