"""Signals sent by releases' services inside their transactions.

``approvals`` and ``monitoring`` build on ``releases`` and listen here, so ``releases`` never
imports them: an accepted scope change or a new commit makes sign-offs stale without the scope
service knowing what a sign-off is.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent when what people approved has changed. kwargs: release, reason (plain words), event
# (the ReleaseEvent that recorded the change), actor.
approved_content_changed = Signal()

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

# Sent by the new-release page after it created a release, with the posted form, so that an app
# above releases acts on fields of its own on that page (monitoring imports the scope from a
# tracker). kwargs: release, data, actor. A receiver returns a sentence for the page, or None.
new_release_submitted = Signal()
