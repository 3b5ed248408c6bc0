"""Thin tasks: each loads ids and calls one service; each is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from gate.models import GitLabApprovals
from gate.services import requests
from monitoring.integrations.base import IntegrationError

logger = logging.getLogger(__name__)


@shared_task
def answer_gate_request(request_id: int) -> str:
    return requests.answer_request(request_id)


@shared_task
def answer_project_gates(project_id: int) -> int:
    return requests.answer_pending(project_id)


@shared_task
def watch_gates() -> int:
    """Every minute: blocked GitLab deployments not seen yet, then every pending request (the
    clock alone opens a deploy window and ends a freeze)."""
    for config in GitLabApprovals.objects.select_related("project", "integration"):
        try:
            requests.discover_gitlab(config)
        except IntegrationError as exc:
            logger.warning("GitLab deployments of %s not read: %s", config.project, exc.message)
    return requests.answer_pending()
