"""htmx-aware responses shared by every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware, which adds ``request.htmx``."""

    htmx: HtmxDetails


class SignedInRequest(HtmxRequest):
    """A request of a signed-in person: what a view behind ``signed_in`` receives."""

    user: User


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` that also works for htmx: a live poll or a section refresh after the
    session expired sends the whole page to the login form instead of swapping the login form
    into a corner of the page."""
    page_view = login_required(view)

    @wraps(view)
    def wrapper(request: HtmxRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            back = request.htmx.current_url_abs_path or "/"
            return HttpResponseClientRedirect(f"{reverse('login')}?{urlencode({'next': back})}")
        return page_view(request, *args, **kwargs)

    return wrapper


def live_refresh(request: HttpRequest) -> dict[str, Any]:
    """Context processor: how often an open page asks whether what it shows has changed."""
    return {"live_refresh_seconds": settings.LIVE_REFRESH_SECONDS}
