"""Signals sent by releases' services inside their transactions.

The layers above (``monitoring``, ``approvals``) listen here: a lower layer tells a higher one
that something happened without importing it. An accepted scope change or a new commit makes
sign-offs stale without the scope service knowing what a sign-off is.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent when what people approved has changed. kwargs: release, reason (plain words), event
# (the ReleaseEvent that recorded the change), actor.
approved_content_changed = Signal()

# Sent when CI reports that a deploy started. ``approvals`` answers by starting it through the
# readiness gate and returns the release; a refusal propagates to the caller. kwargs: release,
# actor, override_reason.
deploy_start_requested = Signal()

# Sent after a release moved from one status to another. kwargs: release, old, new, actor, event.
status_changed = Signal()

# Sent when the release's commit changed. kwargs: release, old_sha, new_sha, actor, event.
commit_changed = Signal()

# Sent when a project is created (approvals gives it the default approval policy). kwargs: project.
project_created = Signal()

# Sent when a release is created (monitoring copies the project's check templates onto it).
# kwargs: release, actor, event.
release_created = Signal()

# Sent after the transaction that logged a release event has committed (never for a change that
# was rolled back). Chat messages, outgoing webhooks and deploy gates follow the release from
# here. kwargs: event (the ReleaseEvent).
event_logged = Signal()
