"""Web middleware for signed-in pages: idle sessions end, and nothing signed-in is cached."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

# Renewing a session writes it; once a minute is precise enough for an idle timeout of hours.
RENEW_EVERY = 60


class SignedInPagesMiddleware:
    """For a signed-in request: answer with ``Cache-Control: no-store`` so that no shared or
    back-button cache shows one person's page to someone else, and slide the session's expiry
    (``SESSION_IDLE_TIMEOUT``) forward when the person did something.

    The background refreshes of a page (htmx GETs: the pulse poll every few seconds, sections
    catching up) are not activity: a page left open in a tab still ends its session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        add_never_cache_headers(response)
        background = request.method == "GET" and "HX-Request" in request.headers
        expires = getattr(request.session, "expire_date", None)
        if not background and expires is not None:
            left = (expires - timezone.now()).total_seconds()
            if left < settings.SESSION_COOKIE_AGE - RENEW_EVERY:
                # SessionMiddleware (after this on the way out) saves a modified session with a
                # fresh expiry, in the database and on the cookie.
                request.session.modified = True
        return response
