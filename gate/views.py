"""The GitHub App's webhook, and the gate command served for CI pipelines to download."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gate import tasks
from gate.models import WEBHOOK_SECRET, GitHubApp
from gate.services import requests
from monitoring.webhooks import github_signature_matches

logger = logging.getLogger(__name__)

CLIENT = Path(__file__).with_name("client.py")


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt
@require_POST
def github_app_webhook(request: HttpRequest, app_id: int) -> JsonResponse:
    app = get_object_or_404(GitHubApp.objects.select_related("project"), pk=app_id)
    # The raw bytes, before anything parses them: the signature is over exactly these.
    body = request.body
    secret = app.secret(WEBHOOK_SECRET)
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not secret:
        return _refuse(403, "This GitHub App has no webhook secret; set one first.")
    if not signature:
        return _refuse(401, "The X-Hub-Signature-256 header is missing.")
    if not github_signature_matches(secret, body, signature):
        logger.warning("GitHub App webhook %s: signature mismatch", app.pk)
        return _refuse(403, "The signature does not match.")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    if not delivery:
        return _refuse(400, "The X-GitHub-Delivery header is missing.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return _refuse(400, "The body is not a JSON object.")
    received = requests.receive_github_app(
        app,
        event=request.headers.get("X-GitHub-Event", ""),
        delivery_id=delivery,
        payload=payload,
    )
    if received.to_answer is not None:
        pk = received.to_answer
        transaction.on_commit(lambda: tasks.answer_gate_request.delay(pk))
    status = 409 if received.outcome == "duplicate" else 200
    return JsonResponse(received.as_dict(), status=status)


@require_GET
def gate_command(request: HttpRequest) -> HttpResponse:
    """The stdlib-only command that asks the gate, for any CI to download and run."""
    response = HttpResponse(CLIENT.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="greenlight-gate.py"'
    return response
