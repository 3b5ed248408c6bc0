"""The post-release health window in a real browser: the unhealthy banner arrives without a
reload, and the rollback is one click for the person who makes the call."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from releases import services
from releases.models import Status
from tests.browser.conftest import ARTIFACTS
from tests.builders import complete_rollback_plan, make_cast, make_monitoring, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


@pytest.fixture
def watched(cast):
    """A release in its monitoring window whose rollback plan names Rita as the decider."""
    release = make_release(cast, "2.6.0", scope=2)
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)
    return release


def test_it_shows_rita_the_unhealthy_banner_live_and_rolls_back_in_one_click(
    cast, watched, open_as, live_server, shoot
):
    rita = open_as(cast.rita)
    rita.goto(f"{live_server.url}{watched.get_absolute_url()}")
    expect(rita.locator("[data-testid=status]")).to_have_text("Monitoring")
    banner = rita.locator("#sec-header .banner.danger")
    expect(banner).to_have_count(0)
    rita.evaluate("window.stillTheSamePage = true")

    services.mark_health(watched, "unhealthy", by="poller", reason="Error rate 3.4 % over 5 min")

    # The page polls: the banner arrives while it stays the same page.
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("Unhealthy since")
    expect(banner).to_contain_text("Error rate 3.4 % over 5 min")
    expect(banner).to_contain_text("The rollback call is Rita")
    assert rita.evaluate("window.stillTheSamePage") is True
    ARTIFACTS.mkdir(exist_ok=True)
    rita.locator("#sec-header").screenshot(path=ARTIFACTS / "unhealthy-rita-header.png")

    banner.get_by_role("button", name="Roll back now").click()

    expect(rita.locator("[data-testid=status]")).to_have_text("Rolled back")
    expect(rita.locator("#sec-header")).to_contain_text("The rollback has not been reported")
    expect(rita.locator("summary", has_text="Rollback finished")).to_be_visible()
    assert rita.evaluate("window.stillTheSamePage") is True
    watched.refresh_from_db()
    assert watched.status == Status.ROLLED_BACK
    assert watched.rollback_decided_by == cast.rita
    assert watched.rollback_reason == "Unhealthy: Error rate 3.4 % over 5 min"
    shoot(rita, "rollback-rita", watched)


def test_it_shows_vic_the_banner_live_without_a_rollback_button(
    cast, watched, open_as, live_server
):
    vic = open_as(cast.vic)
    vic.goto(f"{live_server.url}{watched.get_absolute_url()}")
    services.mark_health(watched, "unhealthy", by="poller", reason="p95 latency 2.1 s")
    banner = vic.locator("#sec-header .banner.danger")
    expect(banner).to_contain_text("p95 latency 2.1 s", timeout=15_000)
    expect(vic.get_by_role("button", name="Roll back now")).to_have_count(0)
    expect(vic.locator("main button")).to_have_count(0)
