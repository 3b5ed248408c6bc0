"""monitoring listens to releases: new releases get the project's checks, a new commit is read
again, and each phase's checks run while the release is in that phase. It listens to itself
too: a post-release check that starts failing may be a breach of the health window, and an
automatic rollback's webhook call is handed to a worker."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitoring import signals as monitoring_signals
from monitoring.services import commit_range, flags, health, trackers
from monitoring.services.checks import (
    copy_check_templates,
    on_release_status_changed,
    restart_pre_release_checks,
)
from releases import signals


@receiver(signals.release_created)
def copy_checks(sender: Any, release: Any, actor: Any, **kwargs: Any) -> None:
    copy_check_templates(release)


@receiver(signals.commit_changed)
def read_new_commit(sender: Any, release: Any, **kwargs: Any) -> None:
    restart_pre_release_checks(release)


@receiver(signals.status_changed)
def follow_the_lifecycle(sender: Any, release: Any, new: str, **kwargs: Any) -> None:
    on_release_status_changed(release, new=new)


@receiver(monitoring_signals.check_status_changed)
def watch_the_health_window(sender: Any, check: Any, release: Any, new: str, **kwargs: Any) -> None:
    health.on_check_status_changed(check=check, release=release, new=new)


@receiver(signals.status_changed)
def follow_the_scope(sender: Any, release: Any, new: str, **kwargs: Any) -> None:
    """The commit range is read from the scope lock on; the Jira version is released after."""
    if new == "frozen":
        commit_range.start_at_lock(release)
    elif new == "released":
        trackers.release_versions_later(release)


@receiver(signals.commit_changed)
def compare_the_new_commit(sender: Any, release: Any, **kwargs: Any) -> None:
    commit_range.read_again(release)


@receiver(monitoring_signals.check_status_changed)
def watch_a_switched_off_flag(
    sender: Any, check: Any, release: Any, new: str, **kwargs: Any
) -> None:
    flags.recover_after_switch(check=check, release=release, new=new)
