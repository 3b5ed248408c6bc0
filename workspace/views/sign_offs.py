"""HTML views of sign-offs: giving and withdrawing one.

They answer like every release-page action (``workspace.views.common.run``): the go/no-go section
with htmx, a redirect back without JavaScript, and 403/409/422 with the reason when nothing
changed.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from approvals.forms import SignOffForm, WithdrawSignOffForm
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from lib.htmx import SignedInRequest, signed_in
from releases import access as rules
from releases.access import get_release_for
from workspace.views.common import run

SECTION = "signoffs"


@signed_in
@require_POST
def sign_off(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    role = request.POST.get("role", "")
    form = SignOffForm(request.POST, auto_id=f"id_sign_{role}_%s")
    return run(
        request,
        pk,
        section=SECTION,
        rule=None,
        access=access,
        form=form,
        key=f"sign-{role}",
        call=lambda: record_sign_off(
            release,
            by=request.user,
            role=form.cleaned_data["role"],
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        ),
        done=lambda s: f"Your {s.get_decision_display()} as {s.get_role_display()} is recorded.",
    )


@signed_in
@require_POST
def sign_off_withdraw(request: SignedInRequest, pk: int) -> HttpResponse:
    release, access = get_release_for(request.user, pk)
    form = WithdrawSignOffForm(request.POST)
    role = request.POST.get("role", "")
    return run(
        request,
        pk,
        section=SECTION,
        rule=rules.WITHDRAW_SIGN_OFF,
        access=access,
        subject=(role,),
        form=form,
        key=f"sign-{role}",
        call=lambda: withdraw_sign_off(release, by=request.user, role=form.cleaned_data["role"]),
        done="Your sign-off is withdrawn.",
    )
