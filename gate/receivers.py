"""The gate follows releases: whatever is logged on a release may open or close the gate for
the deploys that wait on it (a Go, a No-go, a withdrawn approval, a cancelled release)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from gate import tasks
from gate.models import GateRequest, RequestState
from gate.services.answer import VERB
from releases import signals


@receiver(signals.event_logged)
def answer_waiting_deploys(sender: Any, event: Any, **kwargs: Any) -> None:
    if event.verb == VERB:
        return
    project_id = event.release.project_id
    if GateRequest.objects.filter(project_id=project_id, state=RequestState.PENDING).exists():
        tasks.answer_project_gates.delay(project_id)
