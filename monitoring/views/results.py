"""A person's judgement of a check that cannot decide by itself."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from lib.errors import NotAllowed, Refused
from lib.htmx import SignedInRequest
from monitoring import forms
from monitoring.models import Check
from monitoring.services.results import judge_check
from monitoring.views.checks import render_check_detail
from releases.access import get_release_for


@login_required
@require_POST
def release_check_judgement(request: SignedInRequest, pk: int, check_pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    check = get_object_or_404(Check, release=release, pk=check_pk)
    form = forms.JudgementForm(request.POST)
    if form.is_valid():
        try:
            judge_check(
                check,
                by=request.user,
                passed=form.cleaned_data["passed"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            forms.attach_errors(form, exc)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except Refused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Judgement recorded for “{check.name}”.")
            return redirect("release_check_detail", pk=release.pk, check_pk=check.pk)
    return render_check_detail(request, release, access, check, judgement=form, status=400)
