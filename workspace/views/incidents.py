"""Incidents on the release page: record one, mark one resolved."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases import forms
from releases.models import Incident
from releases.services.incidents import record_incident, resolve_incident
from workspace.views.common import release_for, run


@signed_in
@require_POST
def incident_add(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    form = forms.IncidentForm(request.POST, auto_id="id_incident_%s")
    return run(
        request,
        pk,
        section="incidents",
        rule=rules.RECORD_INCIDENT,
        access=access,
        form=form,
        key="incident",
        call=lambda: record_incident(release, by=request.user, **form.cleaned_data),
        done=lambda incident: f"Incident recorded: {incident}",
    )


@signed_in
@require_POST
def incident_resolve(request: SignedInRequest, pk: int, incident_pk: int) -> HttpResponse:
    release, access = release_for(request, pk)
    incident = get_object_or_404(
        Incident.objects.select_related("release__project"), pk=incident_pk, release=release
    )
    form = forms.ResolveIncidentForm(request.POST, prefix=f"incident{incident.pk}")
    return run(
        request,
        pk,
        section="incidents",
        rule=rules.RECORD_INCIDENT,
        access=access,
        form=form,
        key=f"incident-{incident.pk}",
        call=lambda: resolve_incident(
            incident, by=request.user, resolved_at=form.cleaned_data["resolved_at"]
        ),
        done=lambda resolved: f"Incident resolved: {resolved}",
    )
