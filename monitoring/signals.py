"""Signals monitoring sends, for whatever builds on it (the post-release health window).

``check_status_changed`` is sent inside the transaction that recorded the change. kwargs: check,
release, old, new (statuses), event (the ReleaseEvent that recorded it).
"""

from __future__ import annotations

from django.dispatch import Signal

check_status_changed = Signal()
