"""The signed call to the rollback plan's webhook after an automatic rollback.

Greenlight starts the rollback by POSTing a JSON description of it to the plan's webhook URL
(a CI job, a deploy tool). The receiver checks who sent it:

- ``X-Greenlight-Signature: sha256=<hex>`` — an HMAC-SHA256 of the raw body with the project's
  rollback webhook secret (shown to its release managers; :func:`signature_matches` is the
  reference check);
- ``X-Greenlight-Delivery`` — the same id on every attempt of one rollback: a receiver that has
  seen it answers 2xx again without acting twice;
- ``X-Greenlight-Event: rollback``.

Exactly one call succeeds. The row (``RollbackWebhookCall``, one per release) is written in the
rollback's transaction; the task that sends it first claims it with a conditional UPDATE
(``pending`` → ``sending``), so a task delivered twice finds nothing to send. A failure (no
connection, a timeout, 5xx, 429) puts it back to ``pending`` and the task tries again with
backoff, at most ``MAX_ATTEMPTS`` times; a 2xx is recorded and nothing is sent again; a refusal
(other 4xx) or the last failed attempt is recorded and the people who can roll back by hand are
told. A claim whose worker died mid-call is never sent again: Greenlight cannot know whether the
receiver acted on it, so it records the outcome as unknown and asks people to look.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lib.links import absolute
from monitoring.crypto import decrypt_secrets, encrypt_secrets
from monitoring.integrations.base import IntegrationError
from monitoring.integrations.http import HttpClient
from monitoring.models import Check, RollbackTrigger, RollbackWebhookCall, RollbackWebhookSecret
from releases import access as rules
from releases.events import CREDENTIALS_CHANGED, HIDDEN, log_event, log_project_event
from releases.models import Project, ProjectEvent, ProjectEventKind, Release, RollbackPlan
from releases.notifications import notify
from releases.services.common import lock_release, release_managers

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Greenlight-Signature"
DELIVERY_HEADER = "X-Greenlight-Delivery"
EVENT_HEADER = "X-Greenlight-Event"
SIGNATURE_PREFIX = "sha256="
MAX_ATTEMPTS = 6
# Waits between attempts: 2, 4, 8, 16, 32 s — a rollback does not wait long — or what a 429
# asked for, up to five minutes.
MAX_RETRY_SECONDS = 300
# Longer than the delivery task may run (its hard time limit, ``tasks.WEBHOOK_TIME_LIMIT``): a
# claim older than this belongs to a worker that is gone.
SEND_LEASE = dt.timedelta(seconds=90)
SECRET_KEY = "secret"
State = RollbackWebhookCall.State


# --- signing ------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """``X-Greenlight-Signature`` for ``body``: an HMAC-SHA256 of the raw bytes, hex."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: compare in constant time, over the exact bytes received."""
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def _stored_secret(project: Project) -> str:
    """The project's signing secret, made on first use (two first uses agree on one)."""
    row = RollbackWebhookSecret.objects.filter(project=project).first()
    if row is None:
        try:
            with transaction.atomic():
                row = RollbackWebhookSecret.objects.create(
                    project=project,
                    secret_encrypted=encrypt_secrets({SECRET_KEY: secrets.token_urlsafe(32)}),
                )
        except IntegrityError:
            row = RollbackWebhookSecret.objects.get(project=project)
    return decrypt_secrets(row.secret_encrypted)[SECRET_KEY]


def reveal_rollback_webhook_secret(project: Project, *, by: Any) -> str:
    """The secret to configure on the receiving side; release managers only, and each time it
    is shown that is recorded (who, when)."""
    rules.SEE_ROLLBACK_SECRET.check(by, project)
    with transaction.atomic():
        value = _stored_secret(project)
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.ROLLBACK_SETTINGS,
            action="revealed",
            summary="Rollback webhook secret shown",
        )
    return value


def rotate_rollback_webhook_secret(project: Project, *, by: Any) -> str:
    """A new secret, from the next attempt on (each attempt is signed when it is sent); the
    receiving side must be given it. Returns it."""
    rules.CHANGE_ROLLBACK_SECRET.check(by, project)
    value = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Two rotations at once: one after the other, and each person is shown the one stored.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        _row, created = RollbackWebhookSecret.objects.update_or_create(
            project=project,
            defaults={
                "secret_encrypted": encrypt_secrets({SECRET_KEY: value}),
                "created_at": timezone.now(),
            },
        )
        log_project_event(
            project,
            actor=by,
            kind=ProjectEventKind.ROLLBACK_SETTINGS,
            action="rotated",
            summary="Rollback webhook secret rotated: credentials changed",
            before={"rollback_webhook_secret": "" if created else HIDDEN},
            after={"rollback_webhook_secret": CREDENTIALS_CHANGED},
        )
    logger.info("Rollback webhook secret of project %s rotated by %s", project.pk, by)
    return value


SECRET_ACTIONS = ("revealed", "rotated")


def rollback_secret_history(project: Project, *, limit: int = 20) -> list[ProjectEvent]:
    """Who saw or changed the secret lately, newest first (from the project's audit log)."""
    return list(
        ProjectEvent.objects.filter(
            project=project, kind=ProjectEventKind.ROLLBACK_SETTINGS, action__in=SECRET_ACTIONS
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


# --- the call -----------------------------------------------------------------------------------


def prepare_call(
    release: Release,
    *,
    trigger: RollbackTrigger | None,
    check: Check | None,
    url: str,
    actor: str,
    reason: str,
) -> RollbackWebhookCall:
    """Write the call in the rollback's transaction; the task sends it after commit."""
    delivery_id = uuid.uuid4()
    plan = RollbackPlan.objects.filter(release=release).first()
    payload = {
        "event": "rollback",
        "delivery": str(delivery_id),
        "release": {
            "id": release.pk,
            "project": release.project.slug,
            "version": release.version,
            "environment": release.environment,
            "git_ref": release.git_ref,
            "commit_sha": release.commit_sha,
            "url": absolute(release.get_absolute_url()),
        },
        "rollback": {
            "automatic": True,
            "reason": reason,
            "decided_by": actor,
            "started_at": release.rolled_back_at.isoformat() if release.rolled_back_at else None,
        },
        "trigger": (
            {
                "id": trigger.pk,
                "description": trigger.description,
                "check": check.name if check else "",
                "value": check.last_value if check else "",
            }
            if trigger
            else None
        ),
        "revert_steps": plan.revert_steps if plan else "",
    }
    call, _ = RollbackWebhookCall.objects.get_or_create(
        release=release,
        defaults={
            "trigger": trigger,
            "delivery_id": delivery_id,
            "url": url,
            "body": json.dumps(payload, sort_keys=True),
        },
    )
    return call


@dataclass(frozen=True)
class Delivery:
    """What one run of the delivery task did. ``retry_in``: run again after this many seconds."""

    outcome: str  # delivered | failed | unknown | retry | busy | done
    retry_in: float | None = None
    detail: str = ""


def deliver(
    call_id: int, *, client: HttpClient | None = None, now: dt.datetime | None = None
) -> Delivery:
    """Send the call once, if it is still to be sent. Safe to run any number of times."""
    now = now or timezone.now()
    claim = uuid.uuid4()
    claimed = RollbackWebhookCall.objects.filter(pk=call_id, state=State.PENDING).update(
        state=State.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return _not_claimed(call_id, now)
    call = RollbackWebhookCall.objects.select_related("release__project").get(pk=call_id)
    body = call.body.encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(_stored_secret(call.release.project), body),
        DELIVERY_HEADER: str(call.delivery_id),
        EVENT_HEADER: "rollback",
    }
    owns_client = client is None
    client = client or HttpClient(connect_retries=0)
    try:
        response = client.request(
            "POST", call.url, what="the rollback webhook", headers=headers, content=body
        )
    except IntegrationError as exc:
        return _failed_attempt(call, claim, exc, now)
    finally:
        if owns_client:
            client.close()
    _finish(
        call,
        claim,
        state=State.DELIVERED,
        response_status=response.status_code,
        summary=f"Rollback webhook called: HTTP {response.status_code} "
        f"(delivery {call.delivery_id})",
        verb="rollback_webhook_called",
    )
    return Delivery("delivered", detail=f"HTTP {response.status_code}")


def _not_claimed(call_id: int, now: dt.datetime) -> Delivery:
    call = RollbackWebhookCall.objects.filter(pk=call_id).first()
    if call is None or call.state != State.SENDING:
        return Delivery("done", detail=call.state if call else "no such call")
    if call.claimed_at and now - call.claimed_at < SEND_LEASE:
        # Another run is sending it right now. Come back when its lease is over, to see how it
        # ended (if its worker dies, nobody else would).
        wait = SEND_LEASE - (now - call.claimed_at)
        return Delivery("busy", retry_in=wait.total_seconds() + 1)
    # The run that claimed it stopped in the middle of the call. The receiver may have acted on
    # it: calling again could start a second rollback, so people decide.
    gone = RollbackWebhookCall.objects.filter(
        pk=call.pk, state=State.SENDING, claim=call.claim
    ).update(state=State.UNKNOWN, last_error="The worker stopped during the call.")
    if gone:
        _record_and_tell(
            call,
            verb="rollback_webhook_unknown",
            summary=f"Rollback webhook outcome unknown: the worker stopped during the call "
            f"(delivery {call.delivery_id})",
            problem=f"Greenlight cannot tell whether the rollback webhook of {call.release} was "
            f"called: the worker stopped during the call (delivery {call.delivery_id}). Check "
            "the rollback job before starting it again.",
        )
    return Delivery("unknown")


def _failed_attempt(
    call: RollbackWebhookCall, claim: uuid.UUID, exc: IntegrationError, now: dt.datetime
) -> Delivery:
    attempts = call.attempts
    if exc.permanent or attempts >= MAX_ATTEMPTS:
        why = exc.message if exc.permanent else f"{attempts} attempts failed; the last: {exc}"
        _finish(
            call,
            claim,
            state=State.FAILED,
            last_error=why,
            summary=f"Rollback webhook failed: {why}",
            verb="rollback_webhook_failed",
            problem=f"The automatic rollback of {call.release} could not call its webhook: "
            f"{why} Start the rollback by hand.",
        )
        return Delivery("failed", detail=why)
    wait = min(MAX_RETRY_SECONDS, max(2.0**attempts, exc.retry_after or 0.0))
    RollbackWebhookCall.objects.filter(pk=call.pk, state=State.SENDING, claim=claim).update(
        state=State.PENDING, claim=None, last_error=str(exc)[:500]
    )
    logger.warning(
        "Rollback webhook of release %s failed (attempt %s): %s", call.release_id, attempts, exc
    )
    return Delivery("retry", retry_in=wait, detail=str(exc))


def _finish(
    call: RollbackWebhookCall,
    claim: uuid.UUID,
    *,
    state: str,
    summary: str,
    verb: str,
    response_status: int | None = None,
    last_error: str = "",
    problem: str = "",
) -> None:
    with transaction.atomic():
        release = lock_release(call.release)
        done = RollbackWebhookCall.objects.filter(
            pk=call.pk, state=State.SENDING, claim=claim
        ).update(
            state=state,
            claim=None,
            response_status=response_status,
            last_error=last_error[:500],
            delivered_at=timezone.now() if state == State.DELIVERED else None,
        )
        if not done:
            return
        log_event(
            release,
            actor="Greenlight",
            verb=verb,
            summary=summary,
            data={"delivery": str(call.delivery_id), "attempts": call.attempts},
        )
        if problem:
            plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
            tell_to_roll_back_by_hand(release, plan, problem=problem)


def _record_and_tell(call: RollbackWebhookCall, *, verb: str, summary: str, problem: str) -> None:
    with transaction.atomic():
        release = lock_release(call.release)
        log_event(
            release,
            actor="Greenlight",
            verb=verb,
            summary=summary,
            data={"delivery": str(call.delivery_id), "attempts": call.attempts},
        )
        plan = RollbackPlan.objects.filter(release=release).select_related("decider").first()
        tell_to_roll_back_by_hand(release, plan, problem=problem)


def tell_to_roll_back_by_hand(release: Release, plan: RollbackPlan | None, *, problem: str) -> None:
    """The rollback decider and the release managers, with the revert steps."""
    people = [*release_managers(release)]
    if plan is not None and plan.decider is not None:
        people.append(plan.decider)
    steps = plan.revert_steps.strip() if plan else ""
    message = problem + (f"\n\nRevert steps:\n{steps}" if steps else "")
    notify(people, release=release, verb="rollback_webhook_failed", message=message)
