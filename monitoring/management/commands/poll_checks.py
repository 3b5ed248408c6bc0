"""Run one poll cycle now, in this process: claim what is due and fetch it.

Beat and the workers do this every few seconds; this command is for trying an integration from a
shell or a cron without Celery. It goes through the same claims, so it never polls a check that a
worker is polling.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from monitoring.services import polling


class Command(BaseCommand):
    help = "Claim the checks that are due and poll them in this process."

    def handle(self, *args: Any, **options: Any) -> None:
        dispatch = polling.claim_due_checks()
        written = sum(polling.poll_group(claim.check_ids, claim.token) for claim in dispatch.claims)
        self.stdout.write(
            f"Polled {dispatch.checks} due check(s) in {len(dispatch.claims)} fetch(es); "
            f"wrote {written}."
        )
