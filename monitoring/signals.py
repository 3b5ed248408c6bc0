"""Signals monitoring sends, for whatever builds on it (the post-release health window).

``check_status_changed`` is sent inside the transaction that recorded the change. kwargs: check,
release, old, new (statuses), event (the ReleaseEvent that recorded it).

``rollback_call_prepared`` is sent once the transaction that prepared an automatic rollback's
webhook call has committed. kwargs: call (the RollbackWebhookCall to deliver).
"""

from __future__ import annotations

from django.dispatch import Signal

check_status_changed = Signal()
rollback_call_prepared = Signal()
