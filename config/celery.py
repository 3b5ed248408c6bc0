from __future__ import annotations

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("greenlight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_filesystem_broker_folders() -> None:
    # kombu's file-system transport needs its folders to exist before a worker or a producer
    # touches them.
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            os.makedirs(options[key], exist_ok=True)


@app.on_after_configure.connect
def _on_after_configure(sender: Celery, **kwargs: object) -> None:
    _ensure_filesystem_broker_folders()
