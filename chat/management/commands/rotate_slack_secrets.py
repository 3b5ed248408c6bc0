"""Re-encrypt every project's Slack bot token and signing secret under the newest FERNET_KEYS
key (run it after ``rotate_secrets``, before the old key is dropped)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat.models import SlackApp
from monitoring.crypto import SecretsUnreadable, rotate_token


class Command(BaseCommand):
    help = "Re-encrypt every Slack app's token and signing secret under the newest key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        for pk in SlackApp.objects.exclude(secrets_encrypted="").values_list("pk", flat=True):
            with transaction.atomic():
                app = SlackApp.objects.select_for_update().select_related("project").get(pk=pk)
                try:
                    app.secrets_encrypted = rotate_token(app.secrets_encrypted)
                except SecretsUnreadable:
                    unreadable.append(app.project.slug)
                    continue
                app.save(update_fields=["secrets_encrypted"])
                rotated += 1
        self.stdout.write(f"Re-encrypted the Slack secrets of {rotated} project(s).")
        if unreadable:
            raise CommandError(
                "No configured key decrypts the Slack secrets of: "
                + ", ".join(unreadable)
                + ". Put the old key back in FERNET_KEYS, or enter them again."
            )
