"""Helpers for tests of the HTML pages: who is logged in, and requests as htmx sends them."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.builders import sessions, signed_in

HTMX = {"HX-Request": "true"}


def client_for(user: Any) -> Client:
    """A client signed in as ``user``, with the session ``force_login`` would leave."""
    (session,) = sessions(user)
    return signed_in(Client(), session)


def htmx_post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, headers=HTMX)


def htmx_get(client: Client, url: str) -> Any:
    return client.get(url, headers=HTMX)
