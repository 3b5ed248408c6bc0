"""Deliveries reach a real receiver on 127.0.0.1 that checks each signature itself: the events a
webhook follows, signed, retried with backoff, refused where the egress policy says, sent again
on request."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from lib.errors import Refused
from releases.models import IncidentSource, ProjectEvent, Release
from releases.services.incidents import (
    record_incident,
    report_incident,
    resolve_incident,
    update_incident,
)
from releases.services.lifecycle import lock_scope, mark_health
from releases.services.review import save_review
from releases.services.rollback import roll_back
from subscriptions import delivery, services, signing, tasks
from subscriptions.models import Delivery, Event, Subscription
from tests.builders import make_monitoring, make_release
from tests.local_servers import closed_port, serving
from tests.subscriptions.receiver import Receiver

pytestmark = pytest.mark.django_db

State = Delivery.State
EVERYTHING = Event.values


def subscribe(cast, receiver: Receiver, events=EVERYTHING, name: str = "Deploy board"):
    subscription, secret = services.create_subscription(
        cast.project, by=cast.dana, name=name, target_url=receiver.url, events=events
    )
    receiver.secret = secret
    return subscription


def test_it_sends_every_followed_event_of_a_release_signed_and_in_order(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver)
        with django_capture_on_commit_callbacks(execute=True):
            release = make_release(cast)
            make_monitoring(release, cast)
            mark_health(release, "unhealthy", by="Greenlight", reason="5xx spike")
            roll_back(release, by=cast.dana, reason="Errors doubled")
            save_review(release, by=cast.rita, went_well="Quick rollback")

    assert all(r.verified for r in receiver.received)
    events = receiver.events()
    assert events[:2] == ["created", "scope_locked"]
    assert events.count("sign_off") == 4
    assert events[-6:] == [
        "decision",
        "deploy_started",
        "deploy_done",
        "unhealthy",
        "rolled_back",
        "review_written",
    ]
    done = next(r for r in receiver.received if r.event == "deploy_done")
    payload = done.payload
    assert payload["event"] == "deploy_done"
    assert payload["delivery"] == done.guid
    assert payload["project"] == {"slug": "payments", "name": "Payments"}
    assert payload["release"]["version"] == "1.0.0"
    assert payload["release"]["commit_sha"] == "a" * 40
    assert payload["release"]["url"].endswith(f"/releases/{release.pk}/")
    assert payload["actor"] == "dana"
    assert done.headers["content-type"] == "application/json"
    decision = next(r for r in receiver.received if r.event == "decision").payload
    assert decision["change"]["verb"] == "decision_go"
    assert decision["change"]["data"]["blockers"] == []
    assert decision["summary"] == "Go decision recorded"
    assert abs(int(done.headers["x-greenlight-timestamp"]) - timezone.now().timestamp()) < 60
    logged = Delivery.objects.get(event="deploy_done")
    assert (logged.state, logged.attempts, logged.response_status) == (State.DELIVERED, 1, 200)
    assert logged.response_excerpt == '{"ok": true}'
    assert logged.duration_ms is not None
    assert str(logged.guid) == done.guid


def test_it_sends_only_the_events_chosen_and_nothing_while_paused(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([200])) as receiver:
        subscription = subscribe(cast, receiver, events=["scope_locked", "released"])
        with django_capture_on_commit_callbacks(execute=True):
            release = make_release(cast)
            lock_scope(release, by=cast.rita)
        services.pause_subscription(subscription, by=cast.rita)
        with django_capture_on_commit_callbacks(execute=True):
            lock_scope(make_release(cast, "1.1.0"), by=cast.rita)

    assert receiver.events() == ["scope_locked"]
    assert Delivery.objects.count() == 1


def test_a_healthy_release_sends_no_unhealthy_event(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["unhealthy"])
        release = make_monitoring(make_release(cast), cast)
        with django_capture_on_commit_callbacks(execute=True):
            mark_health(release, "healthy", by="Greenlight", reason="All green")
        assert receiver.received == []
        with django_capture_on_commit_callbacks(execute=True):
            mark_health(release, "unhealthy", by="Greenlight", reason="5xx spike")
    assert receiver.events() == ["unhealthy"]
    assert receiver.received[0].payload["release"]["health"] == "unhealthy"


def test_it_sends_an_incident_opened_changed_and_resolved_with_the_incident_signed(
    cast, django_capture_on_commit_callbacks
):
    release = make_monitoring(make_release(cast), cast)
    started = release.deploy_started_at
    assert started is not None
    with serving(Receiver([200])) as receiver:
        subscribe(
            cast, receiver, events=["incident_opened", "incident_updated", "incident_resolved"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            incident = record_incident(
                release,
                by=cast.dana,
                title="Checkout errors",
                severity="sev2",
                started_at=started,
                link="https://pager.example.com/incidents/42",
            )
        with django_capture_on_commit_callbacks(execute=True):
            update_incident(incident, by=cast.dana, severity="sev1")
        with django_capture_on_commit_callbacks(execute=True):
            resolve_incident(incident, by=cast.rita)

    assert receiver.events() == ["incident_opened", "incident_updated", "incident_resolved"]
    assert all(r.verified for r in receiver.received)
    opened, updated, resolved = (r.payload for r in receiver.received)
    assert opened["incident"] == {
        "id": incident.pk,
        "title": "Checkout errors",
        "severity": "sev2",
        "started_at": started.isoformat(),
        "resolved_at": None,
        "link": "https://pager.example.com/incidents/42",
        "source": "manual",
        "external_id": "",
    }
    assert opened["release"]["version"] == "1.0.0"
    assert opened["actor"] == "dana"
    assert updated["change"]["before"] == {"severity": "sev2"}
    assert updated["change"]["after"] == {"severity": "sev1"}
    assert updated["incident"]["severity"] == "sev1"
    assert resolved["incident"]["resolved_at"] is not None
    assert resolved["actor"] == "rita"
    assert resolved["summary"].startswith("Incident resolved: SEV1 Checkout errors")
    assert Delivery.objects.filter(state=State.DELIVERED).count() == 3


def test_incident_events_go_only_to_webhooks_that_follow_them(
    cast, django_capture_on_commit_callbacks
):
    release = make_monitoring(make_release(cast), cast)
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["incident_resolved"])
        with django_capture_on_commit_callbacks(execute=True):
            incident = record_incident(release, by=cast.dana, title="Slow search", severity="sev3")
            update_incident(incident, by=cast.dana, title="Slow search results")
        assert receiver.received == []
        with django_capture_on_commit_callbacks(execute=True):
            resolve_incident(incident, by=cast.dana)

    assert receiver.events() == ["incident_resolved"]


def test_an_incident_reported_by_a_tool_is_tried_again_until_the_receiver_accepts(
    cast, django_capture_on_commit_callbacks
):
    release = make_monitoring(make_release(cast), cast)
    with serving(Receiver([503, 200])) as receiver:
        subscribe(cast, receiver, events=["incident_opened"])
        with django_capture_on_commit_callbacks(execute=False):
            report_incident(
                release,
                by="CI token pager-relay",
                source=IncidentSource.PAGERDUTY,
                external_id="PD-7",
                title="Payments down",
                severity="sev1",
            )
        [queued] = services.queue_deliveries(release.events.get(verb="incident_recorded"))

        result = tasks.deliver_webhook.apply(args=(queued.pk,), throw=False)

        assert result.get() == "delivered"
    assert [r.status for r in receiver.received] == [503, 200]
    assert all(r.verified for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1
    payload = receiver.received[-1].payload
    assert payload["actor"] == "CI token pager-relay"
    assert (payload["incident"]["source"], payload["incident"]["external_id"]) == (
        "pagerduty",
        "PD-7",
    )


def test_it_tries_again_with_backoff_after_a_server_error_until_the_receiver_accepts(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([500, 503, 200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        # The event's own callbacks did not run: queue the delivery as the receiver would.
        event = Release.objects.get().events.get(verb="scope_locked")
        [queued] = services.queue_deliveries(event)
        now = timezone.now()

        first = delivery.deliver(queued.pk, now=now)
        queued.refresh_from_db()
        assert (first.outcome, first.retry_in) == ("retry", 10.0)
        assert (queued.state, queued.attempts, queued.response_status) == (State.PENDING, 1, 500)
        assert queued.next_attempt_at == now + dt.timedelta(seconds=10)
        assert queued.error == "The receiver answered HTTP 500."

        second = delivery.deliver(queued.pk, now=now + dt.timedelta(seconds=10))
        assert (second.outcome, second.retry_in) == ("retry", 20.0)
        third = delivery.deliver(queued.pk, now=now + dt.timedelta(seconds=30))
        assert third.outcome == "delivered"
        assert delivery.deliver(queued.pk).outcome == "done"

    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert all(r.verified for r in receiver.received)
    # One delivery: the same id and the same bytes every time, each attempt signed afresh.
    assert len({r.guid for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert len({r.headers["x-greenlight-timestamp"] for r in receiver.received}) == 3
    queued.refresh_from_db()
    assert (queued.state, queued.attempts, queued.response_status) == (State.DELIVERED, 3, 200)
    assert [a["status"] for a in queued.attempt_log] == [500, 503, 200]
    assert queued.error == ""


def test_the_task_tries_again_until_the_receiver_accepts(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([502, 200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))

        # Run eagerly, the retry follows at once instead of after its countdown.
        result = tasks.deliver_webhook.apply(args=(queued.pk,), throw=False)

        assert result.get() == "delivered"
        assert [r.status for r in receiver.received] == [502, 200]


def test_the_backoff_doubles_and_stops_at_its_ceiling():
    waits = [delivery.backoff(n) for n in range(1, delivery.MAX_ATTEMPTS)]
    assert waits == [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0]
    assert delivery.backoff(12) == delivery.MAX_RETRY_SECONDS
    # A receiver asking for longer (429 with Retry-After) is given longer.
    assert delivery.backoff(1, asked=120) == 120


def test_it_gives_up_after_the_last_attempt(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([503])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))
        outcomes = [delivery.deliver(queued.pk).outcome for _ in range(delivery.MAX_ATTEMPTS + 1)]

    assert outcomes == ["retry"] * (delivery.MAX_ATTEMPTS - 1) + ["failed", "done"]
    assert len(receiver.received) == delivery.MAX_ATTEMPTS
    queued.refresh_from_db()
    assert queued.state == State.FAILED
    assert queued.error == "8 attempts failed; the last: The receiver answered HTTP 503."


def test_a_refusal_by_the_receiver_is_not_tried_again(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([410])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=True):
            lock_scope(make_release(cast), by=cast.rita)
    assert len(receiver.received) == 1
    logged = Delivery.objects.get()
    assert (logged.state, logged.attempts, logged.response_status) == (State.FAILED, 1, 410)
    assert logged.response_excerpt == '{"error": "try later"}'


def test_no_answer_is_tried_again(cast, django_capture_on_commit_callbacks):
    services.create_subscription(
        cast.project,
        by=cast.rita,
        name="Nobody home",
        target_url=f"http://127.0.0.1:{closed_port()}/hook",
        events=["scope_locked"],
    )
    with django_capture_on_commit_callbacks(execute=False):
        lock_scope(make_release(cast), by=cast.rita)
    [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))

    outcome = delivery.deliver(queued.pk)

    assert (outcome.outcome, outcome.retry_in) == ("retry", 10.0)
    queued.refresh_from_db()
    assert queued.error == "No answer from 127.0.0.1."
    assert queued.response_status is None


def test_an_internal_target_is_refused_under_the_production_policy(
    cast, settings, django_capture_on_commit_callbacks
):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        # Saved while the operator allowed loopback; production settings allow nothing.
        settings.OUTBOUND_ALLOWED_NETWORKS = []
        with django_capture_on_commit_callbacks(execute=True):
            lock_scope(make_release(cast), by=cast.rita)
    assert receiver.received == []
    logged = Delivery.objects.get()
    assert (logged.state, logged.attempts) == (State.FAILED, 1)
    assert "127.0.0.1 is a loopback address" in logged.error
    assert "OUTBOUND_ALLOWED_NETWORKS" in logged.error


def test_a_redelivery_sends_the_same_delivery_again_signed_afresh_and_is_logged(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([410, 200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=True):
            lock_scope(make_release(cast), by=cast.rita)
        failed = Delivery.objects.get()
        assert failed.state == State.FAILED

        with django_capture_on_commit_callbacks(execute=True):
            again = services.redeliver(failed, by=cast.dana)

    assert [r.status for r in receiver.received] == [410, 200]
    first, second = receiver.received
    assert second.guid == first.guid == str(failed.guid)
    assert second.body == first.body
    assert second.verified
    again.refresh_from_db()
    assert (again.state, again.redelivery_of, again.response_status) == (
        State.DELIVERED,
        failed,
        200,
    )
    failed.refresh_from_db()
    assert failed.state == State.FAILED
    entry = ProjectEvent.objects.get(kind="webhook_subscription", action="redelivered")
    assert entry.actor == cast.dana
    assert entry.summary == (
        f"Outgoing webhook “Deploy board”: scope locked sent again (delivery {failed.guid})"
    )


def test_a_delivery_still_being_sent_is_not_sent_again_on_request(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))
        with pytest.raises(Refused, match="still being sent"):
            services.redeliver(queued, by=cast.rita)
    assert Delivery.objects.count() == 1


def test_a_rotated_secret_signs_every_attempt_from_then_on(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([500, 200])) as receiver:
        subscription = subscribe(cast, receiver, events=["scope_locked"])
        old = receiver.secret
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))
        delivery.deliver(queued.pk)
        receiver.secret = services.rotate_secret(subscription, by=cast.rita)
        assert delivery.deliver(queued.pk).outcome == "delivered"

    first, second = receiver.received
    assert signing.verify(
        old,
        first.body,
        timestamp=first.headers["x-greenlight-timestamp"],
        signature=first.headers["x-greenlight-signature"],
    )
    assert second.verified
    assert not signing.verify(
        old,
        second.body,
        timestamp=second.headers["x-greenlight-timestamp"],
        signature=second.headers["x-greenlight-signature"],
    )


def test_a_delivery_waiting_when_its_webhook_is_paused_is_not_sent(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([200])) as receiver:
        subscription = subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))
        services.pause_subscription(subscription, by=cast.rita)
        assert delivery.deliver(queued.pk).outcome == "failed"
    assert receiver.received == []
    queued.refresh_from_db()
    assert queued.error == "Not sent: the webhook is paused."


def test_queueing_an_event_twice_sends_it_once(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        event = Release.objects.get().events.get(verb="scope_locked")
        assert len(services.queue_deliveries(event)) == 1
        assert services.queue_deliveries(event) == []
    assert Delivery.objects.count() == 1


def test_the_signature_covers_the_timestamp_and_the_exact_body():
    body = json.dumps({"event": "released"}).encode()
    header = signing.sign("whsec_test", 1_800_000_000, body)

    def check(body: bytes, timestamp: str, now: float = 1_800_000_010) -> bool:
        return signing.verify("whsec_test", body, timestamp=timestamp, signature=header, now=now)

    assert check(body, "1800000000")
    assert not check(body + b" ", "1800000000")
    assert not check(body, "1800000001")
    # A delivery captured and replayed later than the tolerance is refused.
    assert not check(body, "1800000000", now=1_800_000_000 + signing.TOLERANCE_SECONDS + 1)


def test_beat_queues_again_a_delivery_whose_task_was_lost(cast, django_capture_on_commit_callbacks):
    with serving(Receiver([200])) as receiver:
        subscribe(cast, receiver, events=["scope_locked"])
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(Release.objects.get().events.get(verb="scope_locked"))
        assert tasks.resend_stalled_webhooks.apply().get() == 0
        Delivery.objects.filter(pk=queued.pk).update(
            created_at=timezone.now() - dt.timedelta(minutes=10)
        )

        assert tasks.resend_stalled_webhooks.apply().get() == 1

    assert receiver.events() == ["scope_locked"]
    assert Subscription.objects.get().deliveries.get().state == State.DELIVERED


def test_a_failure_to_queue_deliveries_does_not_undo_the_change(
    cast, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(event):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "queue_deliveries", broken)
    release = make_release(cast)
    with django_capture_on_commit_callbacks(execute=True):
        lock_scope(release, by=cast.rita)

    release.refresh_from_db()
    assert release.status == "frozen"
    assert not Delivery.objects.exists()
