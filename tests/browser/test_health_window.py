"""The post-release health window in a real browser: a post-release check breaches, the
unhealthy banner with the trigger's recommendation arrives without a reload, and the rollback is
one click for the person who makes the call."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from monitoring.services import health
from monitoring.services.checks import save_release_check
from monitoring.services.results import record_check_result
from releases.models import Status
from tests.browser.conftest import picture
from tests.builders import complete_rollback_plan, make_cast, make_monitoring, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


@pytest.fixture
def watched(cast):
    """A release in its monitoring window whose rollback plan names Rita as the decider, with a
    recommend trigger on its error-rate check."""
    release = make_release(cast, "2.6.0", scope=2)
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)
    check = save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name="Checkout error rate",
        phase="post_release",
        comparator="lt",
        threshold=0.02,
    )
    health.add_rollback_trigger(release, by=cast.dana, check=check, mode="recommend")
    record_check_result(check, status="passing", value="0.004", source="api")
    return release


def breach(release, value: str) -> None:
    """The monitor reports the error rate above its threshold, as the poller would write it."""
    check = release.checks.get(name="Checkout error rate")
    record_check_result(check, status="failing", value=value, source="api")


def test_it_shows_rita_the_unhealthy_banner_live_and_rolls_back_in_one_click(
    cast, watched, open_as, live_server, shoot
):
    rita = open_as(cast.rita, watched.get_absolute_url())
    expect(rita.locator("[data-testid=status]")).to_have_text("Monitoring")
    banner = rita.locator("#sec-header .banner.danger")
    expect(banner).to_have_count(0)
    rita.evaluate("window.stillTheSamePage = true")

    breach(watched, "0.034")

    # The page polls: the banner arrives while it stays the same page.
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("Unhealthy since")
    expect(banner).to_contain_text("“Checkout error rate” failing (0.034)")
    expect(banner.get_by_test_id("recommendation")).to_contain_text("Rollback recommended")
    expect(banner).to_contain_text("The rollback call is Rita")
    assert rita.evaluate("window.stillTheSamePage") is True
    picture(rita.locator("#sec-header"), "unhealthy-rita-header", caret="initial")

    banner.get_by_role("button", name="Roll back now").click()

    expect(rita.locator("[data-testid=status]")).to_have_text("Rolled back")
    expect(rita.locator("#sec-header")).to_contain_text("The rollback has not been reported")
    expect(rita.locator("summary", has_text="Rollback finished")).to_be_visible()
    assert rita.evaluate("window.stillTheSamePage") is True
    watched.refresh_from_db()
    assert watched.status == Status.ROLLED_BACK
    assert watched.rollback_decided_by == cast.rita
    assert watched.rollback_reason == (
        "Rolled back as recommended: Checkout error rate ≥ 0.02: "
        "“Checkout error rate” failing (0.034)"
    )
    shoot(rita, "rollback-rita", watched)


def test_it_shows_vic_the_banner_live_without_a_rollback_button(
    cast, watched, open_as, live_server
):
    vic = open_as(cast.vic, watched.get_absolute_url())
    breach(watched, "0.051")
    banner = vic.locator("#sec-header .banner.danger")
    expect(banner).to_contain_text("failing (0.051)", timeout=15_000)
    expect(banner.get_by_test_id("recommendation")).to_be_visible()
    expect(vic.get_by_role("button", name="Roll back now")).to_have_count(0)
    expect(vic.locator("main button")).to_have_count(0)
