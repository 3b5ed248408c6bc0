"""Database sessions that remember when they expire, so an idle timeout can slide without
writing the session on every request (config/middleware.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    expire_date: dt.datetime | None = None

    def _get_session_from_db(self) -> Any:
        # Django's own hook, missing from the stub.
        stored = super()._get_session_from_db()  # type: ignore[misc]
        if stored is not None:
            self.expire_date = stored.expire_date
        return stored
