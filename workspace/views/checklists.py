"""Ticking a release's checklist items; the project's checklist templates."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.access import (
    get_project_for,
)
from releases.models import (
    ChecklistItem,
    Release,
)
from releases.services.checklists import (
    TEMPLATE_FIELDS,
    delete_checklist_template,
    save_checklist_template,
    tick_checklist_item,
    untick_checklist_item,
)
from workspace.views.common import release_for, run
from workspace.views.projects import settings_run


def _checklist_item(release: Release, item_pk: int) -> ChecklistItem:
    return get_object_or_404(ChecklistItem, pk=item_pk, release=release)


@signed_in
@require_POST
def checklist_tick(request: SignedInRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    item = _checklist_item(release, item_pk)
    form = forms.TickForm(request.POST, prefix=f"tick{item.pk}")
    return run(
        request,
        pk,
        section="checklists",
        rule=rules.TICK,
        access=access,
        subject=(item,),
        form=form,
        key=f"tick-{item.pk}",
        call=lambda: tick_checklist_item(
            item, by=request.user, note=form.cleaned_data["note"], url=form.cleaned_data["url"]
        ),
        done=lambda ticked: f"Ticked “{ticked.title}”.",
    )


@signed_in
@require_POST
def checklist_untick(request: SignedInRequest, pk: int, item_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    item = _checklist_item(release, item_pk)
    form = forms.UntickForm(request.POST, prefix=f"untick{item.pk}")
    return run(
        request,
        pk,
        section="checklists",
        rule=rules.TICK,
        access=access,
        subject=(item,),
        form=form,
        key=f"untick-{item.pk}",
        call=lambda: untick_checklist_item(
            item, by=request.user, reason=form.cleaned_data["reason"]
        ),
        done=lambda unticked: f"Unticked “{unticked.title}”.",
    )


@signed_in
@require_POST
def template_save(
    request: SignedInRequest, slug: str, template_pk: int | None = None
) -> HttpResponse:
    project = get_project_for(request.user, slug)
    template = (
        get_object_or_404(project.checklist_templates.all(), pk=template_pk)
        if template_pk
        else None
    )
    prefix = f"t{template_pk}" if template else "tnew"
    form = forms.ChecklistTemplateForm(request.POST, instance=template, prefix=prefix)
    return settings_run(
        request,
        project,
        anchor="checklists",
        form=form,
        key=f"template-{template_pk}" if template else "template-new",
        call=lambda: save_checklist_template(
            project,
            by=request.user,
            template=template,
            **{name: form.cleaned_data[name] for name in TEMPLATE_FIELDS},
        ),
        done=lambda saved: f"Saved “{saved.title}”.",
    )


@signed_in
@require_POST
def template_delete(request: SignedInRequest, slug: str, template_pk: int) -> HttpResponse:
    project = get_project_for(request.user, slug)
    template = get_object_or_404(project.checklist_templates.all(), pk=template_pk)
    return settings_run(
        request,
        project,
        anchor="checklists",
        call=lambda: delete_checklist_template(template, by=request.user),
        done=f"Removed “{template.title}” from future releases.",
    )
