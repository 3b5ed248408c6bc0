"""Every main page on a phone: 375 px wide, nothing wider than the screen."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from approvals.services.decisions import open_poll
from releases.models import FreezeWindow
from releases.services.freeze_windows import save_freeze_window
from releases.services.lifecycle import lock_scope
from releases.services.trains import save_train
from tests.builders import make_approved, make_cast, make_monitoring, make_ready, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What sticks out on the right outside a box that scrolls: why a page is too wide.
WIDEST = """
(() => {
  const out_of = (el) => el.getBoundingClientRect().right > window.innerWidth + 1;
  const name = (el) => el.tagName + (typeof el.className === "string" && el.className
    ? "." + el.className.split(" ").join(".") : "");
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (out_of(el) && ![...el.children].some(out_of) && !scrolls(el)) {
      const path = [];
      for (let p = el; p && p !== document.body && path.length < 4; p = p.parentElement) {
        path.unshift(name(p));
      }
      const r = el.getBoundingClientRect();
      out.push(`${path.join(">")} ${Math.round(r.left)}-${Math.round(r.right)} px`);
    }
  }
  return out.slice(0, 12);
})()
"""
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE}


@pytest.fixture
def cast(transactional_db):
    return make_cast()


@pytest.fixture
def releases(cast):
    """A project the way the demo has it: releases in every state, a train, freeze windows."""
    now = timezone.now()
    long_title = "Checkout redesign with the new payment provider and saved cards"
    planning = make_release(cast, "3.2.0", scope=3, title=long_title)
    frozen = make_release(cast, "3.1.0", scope=4)
    lock_scope(frozen, by=cast.rita)
    open_poll(frozen, by=cast.rita)
    ready = make_ready(make_release(cast, "3.0.1", kind="hotfix", scope=1), cast)
    approved = make_approved(make_release(cast, "3.0.0", scope=2), cast)
    monitoring = make_monitoring(make_release(cast, "2.9.0", scope=2), cast)
    save_train(
        cast.project,
        by=cast.rita,
        name="Weekly",
        cadence_weeks=1,
        first_deploy_date=(now + dt.timedelta(days=3)).date(),
        deploy_time=dt.time(14, 0),
        timezone="Europe/Berlin",
    )
    save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Weekend freeze",
        recurrence="weekly",
        start_weekday=FreezeWindow.Weekday.FRIDAY,
        start_time=dt.time(15, 0),
        end_weekday=FreezeWindow.Weekday.MONDAY,
        end_time=dt.time(8, 0),
        timezone="Europe/Berlin",
    )
    return {
        "planning": planning,
        "frozen": frozen,
        "ready": ready,
        "approved": approved,
        "monitoring": monitoring,
    }


def test_it_fits_every_main_page_on_a_phone_without_sideways_scrolling(
    cast, releases, open_as, live_server
):
    rita = open_as(cast.rita, None)
    slug = cast.project.slug
    pages = {
        "dashboard": reverse("dashboard"),
        "timeline": reverse("timeline"),
        "metrics": reverse("metrics"),
        "project metrics": reverse("project_metrics", args=[slug]),
        "project settings": reverse("project_settings", args=[slug]),
        "trains": reverse("project_trains", args=[slug]),
        "notifications": reverse("notifications"),
        "new release": reverse("release_create"),
        **{
            f"release page ({state})": release.get_absolute_url()
            for state, release in releases.items()
        },
    }
    too_wide = {}
    for name, url in pages.items():
        rita.goto(f"{live_server.url}{url}")
        width = rita.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = (width, rita.evaluate(WIDEST))
    assert len(pages) == 13
    assert too_wide == {}, f"Pages wider than {PHONE['width']} px: {too_wide}"


def test_it_lets_paul_reach_the_go_button_on_a_phone(cast, releases, open_as, live_server):
    paul = open_as(cast.paul, releases["frozen"].get_absolute_url())
    go = paul.get_by_role("button", name="Go as Product", exact=True)
    go.scroll_into_view_if_needed()
    expect(go).to_be_visible()
    box = go.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert paul.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    paul.get_by_label("Comment").first.fill("Looks good from my phone")
    go.click()
    expect(paul.get_by_test_id("signoff-product-paul")).to_have_text("Go")
