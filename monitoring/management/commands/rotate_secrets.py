"""Re-encrypt every stored integration credential, every project's rollback webhook secret, and
every column another app declares encrypted (a model's ``encrypted_fields``) under the newest
key in FERNET_KEYS.

Rotation: prepend a new key to FERNET_KEYS (keep the old ones after it), deploy, run this
command, then drop the old keys.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitoring.crypto import SecretsUnreadable, rotate_token
from monitoring.models import Integration, RollbackWebhookSecret


class Command(BaseCommand):
    help = "Re-encrypt every integration's credentials under the newest FERNET_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        ids = Integration.objects.exclude(secrets_encrypted="").values_list("pk", flat=True)
        for pk in ids:
            # One short transaction per row: a long rotation never blocks the poller for long.
            with transaction.atomic():
                integration = Integration.objects.select_for_update().get(pk=pk)
                try:
                    integration.secrets_encrypted = rotate_token(integration.secrets_encrypted)
                except SecretsUnreadable:
                    unreadable.append(f"{integration.project.slug}/{integration.name}")
                    continue
                integration.save(update_fields=["secrets_encrypted"])
                rotated += 1
        self.stdout.write(f"Re-encrypted the credentials of {rotated} integration(s).")
        signing = 0
        for pk in RollbackWebhookSecret.objects.values_list("pk", flat=True):
            with transaction.atomic():
                rows = RollbackWebhookSecret.objects.select_for_update().select_related("project")
                row = rows.get(pk=pk)
                try:
                    row.secret_encrypted = rotate_token(row.secret_encrypted)
                except SecretsUnreadable:
                    unreadable.append(f"{row.project.slug} (rollback webhook secret)")
                    continue
                row.save(update_fields=["secret_encrypted"])
                signing += 1
        self.stdout.write(f"Re-encrypted the rollback webhook secrets of {signing} project(s).")
        unreadable += self._rotate_declared()
        if unreadable:
            raise CommandError(
                "No configured key decrypts the credentials of: "
                + ", ".join(unreadable)
                + ". Put the old key back in FERNET_KEYS, or enter these credentials again."
            )

    def _rotate_declared(self) -> list[str]:
        """Models of other apps name their encrypted columns in ``encrypted_fields``."""
        unreadable = []
        for model in apps.get_models():
            fields = getattr(model, "encrypted_fields", ())
            if not fields:
                continue
            rotated = 0
            for pk in model._default_manager.values_list("pk", flat=True):
                with transaction.atomic():
                    row = model._default_manager.select_for_update().get(pk=pk)
                    try:
                        for name in fields:
                            setattr(row, name, rotate_token(getattr(row, name)))
                    except SecretsUnreadable:
                        unreadable.append(f"{model._meta.verbose_name} {row}")
                        continue
                    row.save(update_fields=list(fields))
                    rotated += 1
            label = model._meta.verbose_name_plural
            self.stdout.write(f"Re-encrypted the secrets of {rotated} {label}.")
        return unreadable
