"""A person's notifications."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lib.htmx import SignedInRequest, signed_in
from releases import notifications as notices


@signed_in
def notifications(request: SignedInRequest) -> HttpResponse:
    rows = notices.notifications_for(request.user)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {"page": page, "unread": notices.unread_count(request.user)}
    if request.htmx:
        return render(request, "releases/notifications.html#list", context)
    return render(request, "releases/notifications.html", context)


@signed_in
@require_POST
def notifications_read(request: SignedInRequest) -> HttpResponse:
    """Mark the ``id``s given read, or every unread one when none is given."""
    ids = request.POST.getlist("id")
    try:
        count = notices.mark_read(request.user, ids) if ids else notices.mark_all_read(request.user)
    except ValidationError:
        count = 0
    if request.htmx:
        return notifications(request)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications")
