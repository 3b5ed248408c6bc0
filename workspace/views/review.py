"""The review after a release and its actions."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.models import (
    ReviewAction,
)
from releases.services.review import add_review_action, complete_review_action, save_review
from workspace.views.common import release_for, run


@signed_in
@require_POST
def review_save(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ReviewForm(request.POST, auto_id="id_review_%s")
    return run(
        request,
        pk,
        section="review",
        rule=rules.WRITE_REVIEW,
        access=access,
        form=form,
        key="review",
        call=lambda: save_review(release, by=request.user, **form.cleaned_data),
        done="Review saved.",
    )


@signed_in
@require_POST
def review_action_add(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.ReviewActionForm(request.POST, project=release.project, auto_id="id_action_%s")
    return run(
        request,
        pk,
        section="review",
        rule=rules.WRITE_REVIEW,
        access=access,
        form=form,
        key="review-action",
        call=lambda: add_review_action(release, by=request.user, **form.cleaned_data),
        done=lambda action: f"Action added: {action.description}",
    )


@signed_in
@require_POST
def review_action_done(request: SignedInRequest, pk: int, action_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    action = get_object_or_404(ReviewAction, pk=action_pk, review__release=release)
    return run(
        request,
        pk,
        section="review",
        rule=rules.COMPLETE_REVIEW_ACTION,
        access=access,
        subject=(action,),
        call=lambda: complete_review_action(action, by=request.user),
        done=lambda done: f"Done: {done.description}",
    )
