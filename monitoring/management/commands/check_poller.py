"""Exit 0 when the poller's dispatcher ran recently, 1 otherwise: the beat health check.

The dispatcher writes its heartbeat when a worker runs the task beat sent, so a passing check
means beat ticks, the broker delivers and a worker reaches the database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.models import PollerHeartbeat


class Command(BaseCommand):
    help = "Fail unless the check dispatcher ran within --max-age seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="Seconds (default: 12 dispatcher intervals, at least 60).",
        )

    def handle(self, *args: Any, max_age: float | None, **options: Any) -> None:
        if max_age is None:
            max_age = max(60.0, 12 * settings.POLL_DISPATCH_SECONDS)
        beat = PollerHeartbeat.objects.filter(name="dispatcher").first()
        if beat is None:
            raise CommandError("The check dispatcher has never run.")
        age = (timezone.now() - beat.ran_at).total_seconds()
        if age > max_age:
            raise CommandError(
                f"The check dispatcher last ran {age:.0f} s ago (more than {max_age:.0f} s)."
            )
        self.stdout.write(
            f"The check dispatcher ran {age:.0f} s ago: {beat.claimed} checks in "
            f"{beat.groups} fetches."
        )
