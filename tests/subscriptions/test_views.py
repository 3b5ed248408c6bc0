"""The outgoing webhooks section of the project's settings page: DevOps and release managers
add, pause, resume, edit, delete webhooks, replace the secret and send deliveries again; the
other members only learn who manages them; outsiders get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from releases.models import ProjectEvent
from releases.services.lifecycle import lock_scope
from subscriptions import delivery, services
from subscriptions.models import Delivery, Subscription
from tests.builders import make_release
from tests.html import client_for
from tests.local_servers import serving
from tests.subscriptions.receiver import Receiver

pytestmark = pytest.mark.django_db

REFUSAL = "Only DevOps and the project&#x27;s release managers manage its outgoing webhooks."


def settings_page(cast) -> str:
    return reverse("project_settings", args=[cast.project.slug])


def create_url(cast) -> str:
    return reverse("webhook_create", args=[cast.project.slug])


def action_url(subscription) -> str:
    return reverse("webhook_action", args=[subscription.project.slug, subscription.pk])


def webhook(cast, url: str = "https://hooks.example.com/greenlight", name: str = "Deploy board"):
    subscription, _ = services.create_subscription(
        cast.project, by=cast.rita, name=name, target_url=url, events=["released"]
    )
    return subscription


def test_it_adds_a_webhook_and_shows_its_secret_once(cast):
    dana = client_for(cast.dana)

    response = dana.post(
        create_url(cast),
        {
            "name": "Deploy board",
            "target_url": "https://hooks.example.com/greenlight",
            "events": ["deploy_started", "deploy_done"],
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    subscription = Subscription.objects.get()
    assert (subscription.name, subscription.events, subscription.active) == (
        "Deploy board",
        ["deploy_started", "deploy_done"],
        True,
    )
    assert response.context["secret"] == subscription.secret
    assert subscription.secret in response.content.decode()
    assert subscription.secret not in subscription.secret_encrypted
    page = dana.get(settings_page(cast)).content.decode()
    assert "Deploy board" in page
    assert "https://hooks.example.com/greenlight" in page
    assert subscription.secret not in page
    entry = ProjectEvent.objects.get(kind="webhook_subscription")
    assert (entry.action, entry.actor) == ("added", cast.dana)
    assert entry.after["secret_encrypted"] == "hidden"


def test_bad_input_is_shown_on_the_form_and_saves_nothing(cast, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    rita = client_for(cast.rita)
    webhook(cast)

    taken = rita.post(
        create_url(cast),
        {"name": "Deploy board", "target_url": "https://b.example.com/", "events": ["released"]},
    )
    internal = rita.post(
        create_url(cast),
        {"name": "Internal", "target_url": "http://10.0.0.7/hook", "events": ["released"]},
    )
    nothing = rita.post(create_url(cast), {"name": "", "target_url": "ftp://x", "events": ["x"]})

    assert taken.status_code == 400
    assert taken.context["form"].errors == {
        "name": ["Another webhook of this project has this name."]
    }
    assert internal.status_code == 400
    assert "10.0.0.7 is a private address" in internal.context["form"].errors["target_url"][0]
    assert nothing.status_code == 400
    assert set(nothing.context["form"].errors) == {"name", "events"}
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize("who", ["paul", "quinn", "devin", "vic"])
def test_other_members_are_refused_with_the_rules_sentence(cast, who):
    subscription = webhook(cast)
    client = client_for(getattr(cast, who))

    page = client.get(settings_page(cast)).content.decode()
    added = client.post(
        create_url(cast),
        {"name": "Mine", "target_url": "https://a.example.com/", "events": ["released"]},
    )
    paused = client.post(action_url(subscription), {"action": "pause"})
    log = client.get(reverse("webhook_log", args=[cast.project.slug, subscription.pk]))

    assert "DevOps and the project's release managers manage the outgoing webhooks." in page
    assert "hooks.example.com" not in page
    assert added.status_code == paused.status_code == log.status_code == 403
    assert REFUSAL in added.content.decode()
    subscription.refresh_from_db()
    assert subscription.active
    assert Subscription.objects.count() == 1


def test_an_outsider_is_told_nothing(cast):
    subscription = webhook(cast)
    otto = client_for(cast.otto)

    assert otto.get(create_url(cast)).status_code == 404
    assert otto.post(action_url(subscription), {"action": "delete"}).status_code == 404
    assert Subscription.objects.count() == 1


def test_it_pauses_resumes_and_deletes_a_webhook(cast):
    subscription = webhook(cast)
    dana = client_for(cast.dana)

    paused = dana.post(action_url(subscription), {"action": "pause"})
    subscription.refresh_from_db()
    assert paused.status_code == 302
    assert paused["Location"].endswith("#webhooks")
    assert not subscription.active
    assert "Paused" in dana.get(settings_page(cast)).content.decode()

    dana.post(action_url(subscription), {"action": "resume"})
    subscription.refresh_from_db()
    assert subscription.active

    dana.post(action_url(subscription), {"action": "delete"})
    assert not Subscription.objects.exists()
    actions = list(
        ProjectEvent.objects.filter(kind="webhook_subscription")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["added", "changed", "changed", "removed"]


def test_it_edits_a_webhook(cast):
    subscription = webhook(cast)

    response = client_for(cast.rita).post(
        reverse("webhook_edit", args=[cast.project.slug, subscription.pk]),
        {"name": "Status page", "target_url": subscription.target_url, "events": ["unhealthy"]},
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.events) == ("Status page", ["unhealthy"])
    entry = ProjectEvent.objects.filter(kind="webhook_subscription").latest("pk")
    assert entry.before == {"name": "Deploy board", "events": ["released"]}


def test_a_new_secret_is_shown_once_and_the_old_one_stops_signing(cast):
    subscription = webhook(cast)
    old = subscription.secret

    response = client_for(cast.dana).post(action_url(subscription), {"action": "rotate"})

    subscription.refresh_from_db()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert subscription.secret != old
    assert subscription.secret in response.content.decode()


def test_the_delivery_log_shows_each_delivery_and_sends_one_again(
    cast, django_capture_on_commit_callbacks
):
    with serving(Receiver([500, 200])) as receiver:
        subscription, receiver.secret = services.create_subscription(
            cast.project,
            by=cast.rita,
            name="Deploy board",
            target_url=receiver.url,
            events=["scope_locked"],
        )
        # The first attempt fails; the delivery waits for its next try.
        with django_capture_on_commit_callbacks(execute=False):
            lock_scope(make_release(cast), by=cast.rita)
        [queued] = services.queue_deliveries(
            subscription.project.releases.get().events.get(verb="scope_locked")
        )
        delivery.deliver(queued.pk)
        dana = client_for(cast.dana)
        log = dana.get(reverse("webhook_log", args=[cast.project.slug, subscription.pk]))
        text = log.content.decode()
        assert "Scope locked" in text
        assert "HTTP 500" in text
        assert "Waiting" in text
        # Still waiting for its next attempt: no button to send it again yet.
        assert f"delivery-{queued.pk}-redeliver" not in text

        Delivery.objects.filter(pk=queued.pk).update(state="failed", next_attempt_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            again = dana.post(
                reverse("webhook_redeliver", args=[cast.project.slug, subscription.pk, queued.pk]),
                {"next": "log"},
            )

    assert again.status_code == 302
    assert again["Location"] == reverse("webhook_log", args=[cast.project.slug, subscription.pk])
    assert [r.status for r in receiver.received] == [500, 200]
    text = dana.get(again["Location"]).content.decode()
    assert "sent again" in text
    assert "Delivered" in text


def test_a_viewer_cannot_send_a_delivery_again(cast, django_capture_on_commit_callbacks):
    subscription, _ = services.create_subscription(
        cast.project,
        by=cast.rita,
        name="Deploy board",
        target_url="https://hooks.example.com/",
        events=["scope_locked"],
    )
    with django_capture_on_commit_callbacks(execute=False):
        lock_scope(make_release(cast), by=cast.rita)
    [queued] = services.queue_deliveries(
        subscription.project.releases.get().events.get(verb="scope_locked")
    )
    Delivery.objects.filter(pk=queued.pk).update(state="failed")

    response = client_for(cast.vic).post(
        reverse("webhook_redeliver", args=[cast.project.slug, subscription.pk, queued.pk])
    )

    assert response.status_code == 403
    assert Delivery.objects.count() == 1
