"""HTML views for decisions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from approvals.models import Decision
from releases.permissions import access_for


def _get_decision_for(user, pk: int) -> Decision:
    decision = (
        Decision.objects.select_related("release__project", "decided_by").filter(pk=pk).first()
    )
    if decision is None or not access_for(user, decision.release).can_view:
        raise Http404("No such decision.")
    return decision


@login_required
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _get_decision_for(request.user, pk)
    if request.GET.get("format") == "json":
        response = JsonResponse(decision.snapshot, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = (
            f'attachment; filename="decision-{decision.pk}-{decision.release.version}.json"'
        )
        return response
    return render(request, "approvals/decision.html", {"decision": decision})
