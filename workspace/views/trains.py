"""The release trains of a project: their cadence, the coming departures with the releases beat
created for them, skipping one departure with a reason.

Project settings pages: members read them, the project's release managers change them
(``workspace.views.projects.settings_run``), outsiders get 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from lib.shown import show_with
from releases import forms
from releases.access import can_manage_project, get_project_for
from releases.models import Project, ReleaseTrain
from releases.services import trains
from workspace.views.projects import SettingsPage, settings_run


def skip_key(train: ReleaseTrain, day: dt.date) -> str:
    return f"skip{train.pk}-{day:%Y%m%d}"


def trains_context(
    request: HttpRequest,
    project: Project,
    *,
    failed: tuple[str, Any] | None = None,
    problem: str = "",
) -> dict[str, Any]:
    key, bound = failed or (None, None)
    found = list(project.trains.all())
    upcoming = trains.upcoming_slots(found)
    for train in found:
        show_with(
            train,
            form=(
                bound
                if key == f"train-{train.pk}"
                else forms.TrainForm(instance=train, prefix=f"t{train.pk}")
            ),
            upcoming=upcoming[train.pk],
        )
        for departure in upcoming[train.pk]:
            skip = skip_key(train, departure.deploy_date)
            show_with(departure, key=skip, skip_bound=bound if key == skip else None)
    return {
        "project": project,
        "can_manage": can_manage_project(request.user, project),
        "problem": problem,
        "failed_key": key,
        "trains": found,
        "new_form": bound if key == "train-new" else forms.TrainForm(prefix="tnew"),
    }


TRAINS = SettingsPage("project_trains", "releases/trains.html", trains_context)


@signed_in
def project_trains(request: SignedInRequest, slug: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    return render(request, TRAINS.template, trains_context(request, project))


@signed_in
@require_POST
def train_save(request: SignedInRequest, slug: str, train_pk: int | None = None) -> HttpResponse:
    project = get_project_for(request.user, slug)
    train = get_object_or_404(project.trains.all(), pk=train_pk) if train_pk else None
    prefix = f"t{train_pk}" if train else "tnew"
    form = forms.TrainForm(request.POST, instance=train, prefix=prefix)
    return settings_run(
        request,
        project,
        page=TRAINS,
        anchor=f"train-{train_pk}" if train else "new-train",
        form=form,
        key=f"train-{train_pk}" if train else "train-new",
        call=lambda: trains.save_train(
            project,
            by=request.user,
            train=train,
            **{name: form.cleaned_data[name] for name in trains.TRAIN_FIELDS},
        ),
        done=lambda saved: f"Train “{saved.name}” saved.",
    )


@signed_in
@require_POST
def slot_skip(request: SignedInRequest, slug: str, train_pk: int, day: str) -> HttpResponse:
    project = get_project_for(request.user, slug)
    train = get_object_or_404(project.trains.all(), pk=train_pk)
    try:
        deploy_date = dt.date.fromisoformat(day)
    except ValueError as exc:
        raise Http404("No such departure.") from exc
    if deploy_date not in train.slot_dates(deploy_date, deploy_date):
        raise Http404(f"{train.name} does not depart on {deploy_date:%Y-%m-%d}.")
    key = skip_key(train, deploy_date)
    form = forms.SkipSlotForm(request.POST, prefix=key)
    return settings_run(
        request,
        project,
        page=TRAINS,
        anchor=f"train-{train.pk}",
        form=form,
        key=key,
        call=lambda: trains.skip_slot(
            train, deploy_date, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done=lambda slot: f"{train.name} on {slot.deploy_date:%a %d %b %Y} skipped.",
    )
