"""Who holds which role on a release."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from lib.errors import Refused
from releases import notifications as notices
from releases.events import Actor, log_event
from releases.models import (
    Release,
    Role,
    RoleAssignment,
)
from releases.services.common import lock_release


def ask_for_go_no_go(release: Release, people: Iterable[Any]) -> None:
    """Notify people that their go/no-go is needed on the release (sent after commit)."""
    notices.notify(
        people,
        release=release,
        verb="sign_off_requested",
        message=f"Your go/no-go is needed on {release}"
        + (f" by {release.go_no_go_at:%Y-%m-%d %H:%M} UTC" if release.go_no_go_at else "")
        + ".",
    )


def unassign_role(release: Release, user: Any, role: str, *, by: Actor) -> None:
    with transaction.atomic():
        release = lock_release(release)
        if not release.is_active:
            raise Refused("The release is finished; its roles can no longer change.")
        deleted, _ = RoleAssignment.objects.filter(release=release, user=user, role=role).delete()
        if deleted:
            log_event(
                release,
                actor=by,
                verb="role_unassigned",
                summary=f"{user} no longer {Role(role).label}",
                data={"user": user.pk, "role": role},
            )
