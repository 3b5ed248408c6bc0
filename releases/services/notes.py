"""Notes in a release's log."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from releases.events import Actor, log_event
from releases.models import (
    Release,
    ReleaseEvent,
)
from releases.services.common import lock_release


def add_note(release: Release, *, by: Actor, text: str) -> ReleaseEvent:
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write something."})
    with transaction.atomic():
        release = lock_release(release)
        return log_event(release, actor=by, verb="note", summary=text[:500])
