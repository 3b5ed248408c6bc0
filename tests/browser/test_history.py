"""History in a real browser: the releases list, the project calendar, push instructions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from releases.models import Release, Status
from releases.services.lifecycle import cancel_release
from releases.services.releases import update_release
from tests.builders import make_cast, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_it_finds_a_finished_release_from_the_top_bar(cast, open_as, live_server):
    done = make_release(cast, "1.9.0", title="Receipts", scope=2)
    Release.objects.filter(pk=done.pk).update(status=Status.ROLLED_BACK)
    cancel_release(make_release(cast, "2.0.0", scope=0), by=cast.rita, reason="Dropped")
    make_release(cast, "2.1.0", scope=0)
    page = open_as(cast.paul)
    expect(page.locator(f"#release-{done.pk}")).to_have_count(0)  # not on the dashboard

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    expect(page.get_by_role("heading", name="Releases", exact=True)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Search").fill("PAY-2")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    row = page.locator(f"#release-{done.pk}")
    expect(row).to_contain_text("Payments 1.9.0")
    expect(row).to_contain_text("Rolled back")
    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Payments 2.0.0")
    expect(page.get_by_role("link", name="API docs")).to_be_visible()


def test_it_lets_rita_make_a_calendar_address_and_paul_subscribe_from_the_timeline(
    cast, open_as, live_server
):
    start = timezone.now() + dt.timedelta(days=2)
    update_release(
        make_release(cast, "3.0.0", scope=0),
        by=cast.rita,
        deploy_window_start=start,
        deploy_window_end=start + dt.timedelta(hours=1),
    )
    rita = open_as(cast.rita, f"/projects/{cast.project.slug}/settings/#calendar")
    expect(rita.locator("#calendar-none")).to_be_visible()
    rita.locator("#calendar-open").click()
    expect(rita.get_by_label("Calendar address")).to_have_value(
        re.compile(r"/calendar/[\w-]+\.ics$")
    )

    paul = open_as(cast.paul, "/timeline/")
    link = paul.get_by_role("link", name="Payments calendar (.ics)")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    feed = paul.request.get(f"{live_server.url}{href}")
    assert feed.status == 200
    summaries = [str(e["summary"]) for e in Calendar.from_ical(feed.body()).walk("VEVENT")]
    assert "Payments 3.0.0: deploy window" in summaries

    rita.locator("#calendar-revoke").click()
    expect(rita.locator("#calendar-none")).to_be_visible()
    assert paul.request.get(f"{live_server.url}{href}").status == 404


def test_it_shows_dana_how_ci_pushes_a_check_result(cast, open_as, live_server):
    release = make_release(cast, "4.0.0", scope=0)
    check = release.checks.get(name="CI green")
    page = open_as(cast.dana, f"/releases/{release.pk}/checks/{check.pk}/")
    card = page.locator("#push")
    expect(card.get_by_role("heading", name="Report results to this check")).to_be_visible()
    expect(card.locator("#push-endpoint")).to_contain_text(
        f"/api/releases/{release.pk}/checks/{check.pk}/results/"
    )
    expect(card.locator("#push-curl")).to_contain_text(release.commit_sha)
    card.get_by_role("link", name="API docs").click()
    page.wait_for_url(f"{live_server.url}/api/docs/")
