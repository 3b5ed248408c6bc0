"""An automatic rollback calls the rollback plan's webhook: signed, once — however often the task
is delivered — and again after a failure, never after a success. The webhook is a real HTTP
server on 127.0.0.1 that checks nothing itself: the tests verify what reached it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from lib.errors import NotAllowed
from monitoring import tasks
from monitoring.models import RollbackWebhookCall
from monitoring.services import health
from monitoring.services.checks import save_release_check
from monitoring.services.results import record_check_result
from monitoring.services.rollback import (
    MAX_ATTEMPTS,
    SEND_LEASE,
    deliver,
    prepare_call,
    reveal_rollback_webhook_secret,
    rotate_rollback_webhook_secret,
    signature_matches,
)
from releases.models import Health, Notification, Release, Status
from releases.services.rollback import roll_back, update_rollback_plan
from tests.builders import known, make_monitoring
from tests.local_servers import WebhookServer, serving
from tests.monitoring.fakes import Answer, FakeProvider
from tests.processes import wait_for

pytestmark = pytest.mark.django_db

State = RollbackWebhookCall.State


def arm(release: Release, cast, url: str) -> object:
    """Monitoring, paul deciding, and an automatic trigger on the error-rate check."""
    make_monitoring(release, cast)
    update_rollback_plan(release, by=cast.dana, decider=cast.paul, rollback_webhook_url=url)
    check = save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name="Checkout error rate",
        phase="post_release",
        comparator="lt",
        threshold=0.02,
    )
    health.add_rollback_trigger(
        release, by=cast.dana, check=check, mode="automatic", description="errors > 2 %"
    )
    return check


def breach(check) -> None:
    record_check_result(check, status="failing", value="0.08", source="api", by="CI token monitor")


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_an_automatic_trigger_rolls_back_at_once_and_calls_the_webhook_signed(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=True):
            breach(check)
            # Inside the transaction the rollback is recorded, the webhook not called yet.
            assert hook.posted == []

        release.refresh_from_db()
        assert release.status == Status.ROLLED_BACK
        assert release.health == Health.UNHEALTHY
        assert release.rollback_automatic is True
        assert release.rollback_decided_by is None
        assert release.rollback_reason == "errors > 2 %: “Checkout error rate” failing (0.08)"
        event = release.events.get(verb="rolled_back")
        assert event.actor_label == "Greenlight (trigger “errors > 2 %”)"
        assert event.summary.startswith("Automatic rollback started: errors > 2 %")

        [posted] = hook.posted
        call = RollbackWebhookCall.objects.get(release=release)
        secret = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
        # What a receiver does: an HMAC-SHA256 of the raw bytes with the project's secret.
        assert posted.headers["x-greenlight-signature"] == "sha256=" + hmac_hex(secret, posted.body)
        assert not signature_matches(
            secret, posted.body + b" ", posted.headers["x-greenlight-signature"]
        )
        assert posted.headers["x-greenlight-delivery"] == str(call.delivery_id)
        assert posted.headers["x-greenlight-event"] == "rollback"
        assert posted.headers["content-type"] == "application/json"
        payload = json.loads(posted.body)
        assert payload["event"] == "rollback"
        assert payload["delivery"] == str(call.delivery_id)
        assert payload["release"]["version"] == "1.0.0"
        assert payload["release"]["commit_sha"] == release.commit_sha
        assert payload["rollback"]["automatic"] is True
        assert payload["rollback"]["reason"] == release.rollback_reason
        assert payload["trigger"]["description"] == "errors > 2 %"
        assert payload["trigger"]["value"] == "0.08"
        assert payload["revert_steps"] == "Redeploy the previous tag."

    call.refresh_from_db()
    assert (call.state, call.attempts, call.response_status) == (State.DELIVERED, 1, 200)
    called = release.events.get(verb="rollback_webhook_called")
    assert called.summary == f"Rollback webhook called: HTTP 200 (delivery {call.delivery_id})"
    assert Notification.objects.filter(verb="rolled_back", user=cast.paul).exists()


def test_the_webhook_is_called_once_however_often_the_task_is_delivered(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=True):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)

        # The broker hands the same message out again (a lost acknowledgement, a restart).
        again = [tasks.deliver_rollback_webhook.apply(args=(call.pk,)) for _ in range(2)]

        assert [result.get() for result in again] == ["done", "done"]
        assert len(hook.posted) == 1
    assert release.events.filter(verb="rollback_webhook_called").count() == 1


def test_the_breach_that_rolled_back_is_not_acted_on_again(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=True):
            breach(check)
        with django_capture_on_commit_callbacks(execute=True):
            health.watch_health(now=timezone.now() + dt.timedelta(minutes=5))
        assert len(hook.posted) == 1
    assert RollbackWebhookCall.objects.count() == 1


def test_a_failing_webhook_is_tried_again_with_backoff_and_never_after_it_accepted(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([503, 500, 200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=False):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)

        first = deliver(call.pk)
        call.refresh_from_db()
        assert (first.outcome, first.retry_in) == ("retry", 2.0)
        assert (call.state, call.attempts) == (State.PENDING, 1)
        assert "HTTP 503" in call.last_error

        second = deliver(call.pk)
        assert (second.outcome, second.retry_in) == ("retry", 4.0)
        assert deliver(call.pk).outcome == "delivered"
        assert deliver(call.pk).outcome == "done"

        assert len(hook.posted) == 3
        # Every attempt is the same delivery: same id, same signed bytes.
        assert len({p.headers["x-greenlight-delivery"] for p in hook.posted}) == 1
        assert len({p.body for p in hook.posted}) == 1
    call.refresh_from_db()
    assert (call.state, call.attempts) == (State.DELIVERED, 3)


def test_the_task_tries_again_until_the_webhook_accepts(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([502, 200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=False):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)

        # Run eagerly, the retry follows at once instead of after its countdown.
        result = tasks.deliver_rollback_webhook.apply(args=(call.pk,), throw=False)
        assert result.get() == "delivered"
        assert len(hook.posted) == 2


def test_a_refusing_webhook_is_not_tried_again_and_people_roll_back_by_hand(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([410])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=True):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)
        assert deliver(call.pk).outcome == "done"
        assert len(hook.posted) == 1

    call.refresh_from_db()
    assert call.state == State.FAILED
    assert "HTTP 410" in call.last_error
    told = Notification.objects.filter(verb="rollback_webhook_failed")
    assert {n.user.username for n in told} == {"rita", "paul"}
    message = known(told.first()).message
    assert "could not call its webhook" in message
    assert "Start the rollback by hand." in message
    assert "Revert steps:\nRedeploy the previous tag." in message


def test_a_webhook_on_a_private_address_is_refused_and_people_roll_back_by_hand(
    cast, release, settings, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([200])) as hook:
        check = arm(release, cast, hook.url)
        # Saved while allowed; the operator takes loopback off the list afterwards.
        settings.OUTBOUND_ALLOWED_NETWORKS = []
        with django_capture_on_commit_callbacks(execute=True):
            breach(check)
    assert hook.posted == []
    call = RollbackWebhookCall.objects.get(release=release)
    assert (call.state, call.attempts) == (State.FAILED, 1)
    assert "OUTBOUND_ALLOWED_NETWORKS" in call.last_error
    assert Notification.objects.filter(verb="rollback_webhook_failed", user=cast.paul).exists()


def test_it_gives_up_after_the_last_attempt(cast, release, django_capture_on_commit_callbacks):
    with serving(WebhookServer([503])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=False):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)
        outcomes = [deliver(call.pk).outcome for _ in range(MAX_ATTEMPTS + 1)]
        assert len(hook.posted) == MAX_ATTEMPTS

    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed", "done"]
    assert Notification.objects.filter(verb="rollback_webhook_failed", user=cast.paul).exists()


def test_a_call_whose_worker_died_during_it_is_not_sent_again(
    cast, release, django_capture_on_commit_callbacks
):
    with serving(WebhookServer([200])) as hook:
        check = arm(release, cast, hook.url)
        with django_capture_on_commit_callbacks(execute=False):
            breach(check)
        call = RollbackWebhookCall.objects.get(release=release)
        now = timezone.now()
        # A run claimed it a moment ago and may still be sending: come back later.
        RollbackWebhookCall.objects.filter(pk=call.pk).update(
            state=State.SENDING, claim=uuid.uuid4(), claimed_at=now, attempts=1
        )
        busy = deliver(call.pk, now=now + dt.timedelta(seconds=10))
        assert busy.outcome == "busy"
        assert busy.retry_in == pytest.approx(81, abs=1)

        # Past the lease, that run is gone; whether the receiver acted is unknown.
        gone = deliver(call.pk, now=now + SEND_LEASE)
        assert gone.outcome == "unknown"
        assert hook.posted == []

    call.refresh_from_db()
    assert call.state == State.UNKNOWN
    assert release.events.filter(verb="rollback_webhook_unknown").count() == 1
    note = Notification.objects.get(verb="rollback_webhook_failed", user=cast.paul)
    assert "cannot tell whether the rollback webhook" in note.message
    assert deliver(call.pk).outcome == "done"


def test_without_a_webhook_the_rollback_is_recorded_and_people_are_told(
    cast, release, django_capture_on_commit_callbacks
):
    check = arm(release, cast, "https://ci.example.com/rollback")
    update_rollback_plan(release, by=cast.dana, rollback_webhook_url="")
    with django_capture_on_commit_callbacks(execute=True):
        breach(check)
    release.refresh_from_db()
    assert release.status == Status.ROLLED_BACK
    assert not RollbackWebhookCall.objects.exists()
    assert release.events.filter(verb="rollback_webhook_missing").exists()
    note = Notification.objects.get(verb="rollback_webhook_failed", user=cast.paul)
    assert "has no webhook to start it" in note.message


def test_only_release_managers_see_or_rotate_the_secret(cast):
    first = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    assert first == reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    assert len(first) >= 40
    for person in (cast.dana, cast.vic, cast.otto):
        with pytest.raises(NotAllowed):
            reveal_rollback_webhook_secret(cast.project, by=person)
        with pytest.raises(NotAllowed):
            rotate_rollback_webhook_secret(cast.project, by=person)
    second = rotate_rollback_webhook_secret(cast.project, by=cast.rita)
    assert second != first
    assert second == reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    # Stored encrypted, never in the clear.
    stored = cast.project.rollback_webhook_secret.secret_encrypted
    assert second not in stored


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_tasks_delivering_at_the_same_moment_call_once(cast, release):
    with FakeProvider(lambda seen: Answer(status=200, body={}, delay=1.0)) as hook:
        make_monitoring(release, cast)
        roll_back(release, by="Greenlight", reason="errors", automatic=True)
        call = prepare_call(
            release, trigger=None, check=None, url=hook.url, actor="Greenlight", reason="errors"
        )
        outcomes: list[str] = []

        def first() -> None:
            try:
                outcomes.append(deliver(call.pk).outcome)
            finally:
                connection.close()

        sending = threading.Thread(target=first)
        sending.start()
        # While the first run waits for the answer, a second delivery of the task arrives.
        wait_for(lambda: hook.seen, 10, "the first run to send", every=0.01)
        second = deliver(call.pk)
        sending.join(10)

        assert second.outcome == "busy"
        assert outcomes == ["delivered"]
        assert len(hook.seen) == 1
