"""Outgoing webhooks in a real browser: Dana adds one on the project's settings page, copies its
secret (shown once), and the delivery log shows what the receiver answered."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from releases.services.lifecycle import lock_scope
from subscriptions.models import Subscription
from tests.browser.conftest import picture
from tests.builders import make_cast, make_release
from tests.local_servers import serving
from tests.subscriptions.receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_dana_adds_a_webhook_and_sees_its_deliveries(cast, open_as, live_server):
    webhooks = reverse("project_settings", args=[cast.project.slug]) + "#webhooks"
    with serving(Receiver([200])) as receiver:
        page = open_as(cast.dana, webhooks)
        section = page.locator("#webhooks")
        section.get_by_text("Add a webhook").click()
        section.get_by_label("Name").fill("Deploy board")
        section.get_by_label("Target URL").fill(receiver.url)
        for label in ("Release created", "Sign-off given or withdrawn", "Released"):
            section.get_by_label(label).uncheck()
        section.get_by_role("button", name="Add webhook").click()

        secret = page.get_by_role("textbox", name="Secret").input_value()
        assert secret == Subscription.objects.get().secret
        receiver.secret = secret

        lock_scope(make_release(cast), by=cast.rita)
        page.goto(live_server.url + webhooks)
        webhook = page.locator(f"#webhook-{Subscription.objects.get().pk}")
        webhook.get_by_text("Latest deliveries").click()
        expect(webhook.get_by_role("row", name="Scope locked")).to_contain_text("HTTP 200")
        expect(webhook).not_to_contain_text(secret)
        picture(page, "webhooks-dana", full_page=True)

    assert receiver.events() == ["scope_locked"]
    assert receiver.received[0].verified
