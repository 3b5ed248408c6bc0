"""Notes in a release's log."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.services.notes import add_note
from workspace.views.common import release_for, run


@signed_in
@require_POST
def note_add(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.NoteForm(request.POST, auto_id="id_note_%s")
    return run(
        request,
        pk,
        section="events",
        rule=rules.ADD_NOTE,
        access=access,
        form=form,
        key="note",
        call=lambda: add_note(release, by=request.user, text=form.cleaned_data["text"]),
        done="Note added.",
    )
