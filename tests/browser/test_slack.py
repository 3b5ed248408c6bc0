"""A Go pressed in Slack shows on Rita's dashboard while she watches, without a reload."""

from __future__ import annotations

import re

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals.models import SignOff
from approvals.services import decisions
from chat import services as chat
from chat.models import SlackLink
from releases.services import lifecycle
from tests.builders import make_cast, make_release
from tests.chat.helpers import button_payload, buttons_of, interaction_body, signed, slack_id
from tests.chat.slack_server import SIGNING_SECRET, TEAM_ID, TOKEN, SlackServer
from tests.local_servers import serving

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slack(settings):
    with serving(SlackServer()) as server:
        settings.SLACK_API_URL = server.url
        yield server


def test_it_shows_pauls_slack_go_on_ritas_dashboard_live(open_as, live_server, slack, shoot):
    cast = make_cast()
    release = make_release(cast, "3.1.0")
    chat.configure_slack_app(
        cast.project, by=cast.rita, bot_token=TOKEN, signing_secret=SIGNING_SECRET
    )
    SlackLink.objects.create(
        user=cast.paul,
        team_id=TEAM_ID,
        slack_user_id=slack_id(cast.paul),
        method=SlackLink.Method.EMAIL,
        linked_at=timezone.now(),
    )
    lifecycle.lock_scope(release, by=cast.rita)
    decisions.open_poll(release, by=cast.rita)
    # The Go button of the direct message Slack received for Paul.
    [dm] = [c.args for c in slack.called("chat.postMessage") if c.args["channel"] == "DUPAUL"]
    go = buttons_of(dm["blocks"])["Go as Product"]

    rita = open_as(cast.rita)
    rita.evaluate("window.stillTheSamePage = true")
    row = rita.locator(f"#release-{release.pk}")
    product = row.locator("li.chip", has_text="Product")
    expect(product).not_to_have_class(re.compile(r"\bgo\b"))
    before = row.locator("[data-testid=readiness]").inner_text()

    body = interaction_body(button_payload(cast.paul, "sign_go", go["value"]))
    pressed = httpx.post(
        f"{live_server.url}/slack/{cast.project.slug}/interactivity/",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )

    assert pressed.status_code == 200
    assert SignOff.objects.current().get(release=release, role="product").user == cast.paul
    expect(product).to_have_class(re.compile(r"\bgo\b"), timeout=15_000)
    expect(row.locator("[data-testid=readiness]")).not_to_have_text(before)
    assert rita.evaluate("window.stillTheSamePage") is True
    # Paul's message in Slack was updated to show his Go.
    updated = slack.called("chat.update")[-1].args
    assert updated["channel"] == "DUPAUL"
    assert "Product: ✅ Go – paul" in str(updated["blocks"])
    shoot(rita, "slack-go-rita", release)
