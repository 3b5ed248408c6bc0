"""monitoring listens to releases: new releases get the project's checks; a new commit is read."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitoring import services
from releases import signals


@receiver(signals.release_created)
def copy_checks(sender: Any, release: Any, actor: Any, **kwargs: Any) -> None:
    services.copy_check_templates(release)


@receiver(signals.commit_changed)
def poll_new_commit(sender: Any, release: Any, **kwargs: Any) -> None:
    services.poll_pre_release_checks_now(release)
