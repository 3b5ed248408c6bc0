"""The services behind both doors: who may manage webhooks, what input they take, what the audit
log keeps, how the secret is stored."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command

from lib.errors import NotAllowed
from releases.models import ProjectEvent
from subscriptions import access, payloads, services
from subscriptions.models import Event, Subscription

pytestmark = pytest.mark.django_db

ARGS = {
    "name": "Deploy board",
    "target_url": "https://hooks.example.com/greenlight",
    "events": ["released", "created"],
}


def test_it_keeps_the_events_in_their_published_order_and_the_secret_encrypted(cast):
    subscription, secret = services.create_subscription(cast.project, by=cast.dana, **ARGS)

    subscription.refresh_from_db()
    assert subscription.events == ["created", "released"]
    assert secret.startswith("whsec_")
    assert subscription.secret == secret
    assert secret not in subscription.secret_encrypted
    entry = ProjectEvent.objects.get(kind="webhook_subscription")
    assert entry.summary == "Outgoing webhook “Deploy board” added"
    assert entry.after["secret_encrypted"] == "hidden"
    assert secret not in str(entry.after)


@pytest.mark.parametrize("who", ["paul", "quinn", "devin", "vic", "otto"])
def test_only_devops_and_release_managers_manage_webhooks(cast, who):
    with pytest.raises(NotAllowed, match=access.MANAGE_WEBHOOKS.refusal):
        services.create_subscription(cast.project, by=getattr(cast, who), **ARGS)
    subscription, _ = services.create_subscription(cast.project, by=cast.rita, **ARGS)
    for change in (
        lambda by: services.pause_subscription(subscription, by=by),
        lambda by: services.rotate_secret(subscription, by=by),
        lambda by: services.delete_subscription(subscription, by=by),
    ):
        with pytest.raises(NotAllowed):
            change(getattr(cast, who))
    assert ProjectEvent.objects.filter(kind="webhook_subscription").count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"target_url": "javascript:alert(1)"}, "target_url"),
        ({"target_url": "https://"}, "target_url"),
        ({"target_url": "https://a.example.com/" + "x" * 500}, "target_url"),
        ({"events": []}, "events"),
        ({"events": ["created", "merged"]}, "events"),
    ],
)
def test_it_refuses_bad_input_by_field(cast, fields, field):
    with pytest.raises(ValidationError) as refused:
        services.create_subscription(cast.project, by=cast.rita, **(ARGS | fields))
    assert list(refused.value.message_dict) == [field]
    assert not Subscription.objects.exists()


def test_it_logs_only_what_changed_and_nothing_when_nothing_did(cast):
    subscription, _ = services.create_subscription(cast.project, by=cast.rita, **ARGS)

    services.update_subscription(subscription, by=cast.dana, events=["created", "released"])
    services.update_subscription(subscription, by=cast.dana, target_url="https://b.example.com/")

    changed = ProjectEvent.objects.filter(kind="webhook_subscription", action="changed").get()
    assert changed.before == {"target_url": "https://hooks.example.com/greenlight"}
    assert changed.after == {"target_url": "https://b.example.com/"}


def test_a_rotation_is_logged_without_the_secret(cast):
    subscription, first = services.create_subscription(cast.project, by=cast.rita, **ARGS)

    second = services.rotate_secret(subscription, by=cast.dana)

    subscription.refresh_from_db()
    assert subscription.secret == second != first
    entry = ProjectEvent.objects.get(kind="webhook_subscription", action="rotated")
    assert entry.after == {"secret": "credentials changed"}
    assert second not in str(entry.after) + entry.summary


def test_rotate_secrets_re_encrypts_webhook_secrets_under_the_newest_key(cast, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    subscription, secret = services.create_subscription(cast.project, by=cast.rita, **ARGS)
    before = subscription.secret_encrypted

    settings.FERNET_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)

    settings.FERNET_KEYS = [new]
    subscription.refresh_from_db()
    assert subscription.secret_encrypted != before
    assert subscription.secret == secret
    assert "Re-encrypted the secrets of 1 subscriptions." in out.getvalue()


def test_every_public_event_has_a_verb_of_the_release_log():
    mapped = set(payloads.VERBS.values()) | {Event.UNHEALTHY}
    assert mapped == set(Event)
