"""Reading a release's check now, on request."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from lib.htmx import SignedInRequest
from monitoring.models import Check
from monitoring.services.polling import poll_check_now
from releases.access import get_release_for


@login_required
@require_POST
def release_check_poll(request: SignedInRequest, pk: int, check_pk: int) -> HttpResponse:
    release, _access = get_release_for(request.user, pk)
    check = get_object_or_404(
        Check.objects.select_related("integration"), release=release, pk=check_pk
    )
    try:
        poll_check_now(check, by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The check will be read within a few seconds.")
    return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
