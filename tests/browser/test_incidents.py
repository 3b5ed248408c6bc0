"""Incidents in a real browser: Dana records what broke after the deploy, and the post-release
review shows it beside the project's last 90 days without a reload."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from releases.models import Release
from releases.services.incidents import record_incident
from releases.services.lifecycle import complete_release
from tests.browser.conftest import picture
from tests.builders import make_cast, make_monitoring, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = timezone.now().replace(second=0, microsecond=0)
FORMAT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def released(cast, version: str, *, hours_ago: int) -> Release:
    release = make_monitoring(make_release(cast, version), cast)
    started = NOW - dt.timedelta(hours=hours_ago)
    Release.objects.filter(pk=release.pk).update(
        deploy_started_at=started,
        deploy_finished_at=started + dt.timedelta(minutes=10),
        monitoring_until=NOW - dt.timedelta(minutes=1),
    )
    complete_release(release, by=cast.rita)
    release.refresh_from_db()
    return release


@pytest.fixture
def out(cast):
    """2.6.0 went out three hours ago; the release before it had a 30-minute incident."""
    earlier = released(cast, "2.5.0", hours_ago=48)
    record_incident(
        earlier,
        by=cast.dana,
        title="Slow search",
        severity="sev3",
        started_at=NOW - dt.timedelta(hours=47),
        resolved_at=NOW - dt.timedelta(hours=46, minutes=30),
    )
    return released(cast, "2.6.0", hours_ago=3)


def test_it_records_an_incident_and_shows_it_in_the_review_with_the_deltas(
    cast, out, open_as, live_server
):
    dana = open_as(cast.dana, out.get_absolute_url())
    review = dana.locator("#sec-review")
    expect(review.get_by_test_id("fact-incident")).to_have_count(0)
    dana.evaluate("window.stillTheSamePage = true")

    section = dana.locator("#sec-incidents")
    section.locator("summary", has_text="Record an incident").click()
    section.get_by_label("What went wrong").fill("Card payments fail")
    section.get_by_label("Severity").select_option("sev1")
    section.get_by_label("Started at").fill((NOW - dt.timedelta(minutes=150)).strftime(FORMAT))
    section.get_by_label("Resolved at").fill((NOW - dt.timedelta(minutes=50)).strftime(FORMAT))
    section.get_by_label("Link").fill("https://status.example.com/incidents/17")
    section.get_by_role("button", name="Record the incident").click()

    incident = section.get_by_test_id("incident")
    expect(incident).to_contain_text("Card payments fail")
    expect(incident).to_contain_text("service restored after 1.7 h")
    # The review refreshes itself: the incident is among its facts, and the figures beside
    # the project's last 90 days say how this release compares.
    expect(review.get_by_test_id("fact-incident")).to_contain_text("Card payments fail")
    deltas = review.get_by_test_id("delta")
    restore = deltas.filter(has_text="Time to restore")
    expect(restore).to_contain_text("35 min slower than the project's 90-day median.")
    expect(deltas.filter(has_text="Change failure")).to_contain_text("failed: 1 incident")
    assert dana.evaluate("window.stillTheSamePage") is True
    picture(review, "review-incident-deltas", caret="initial")


def test_the_timeline_marks_each_incident_on_its_release_row_by_severity(
    cast, out, open_as, live_server
):
    record_incident(
        out,
        by=cast.dana,
        title="Card payments fail",
        severity="sev1",
        started_at=NOW - dt.timedelta(hours=2),
    )
    vic = open_as(cast.vic, "/timeline/")

    marker = vic.locator("g.lane", has_text="2.6.0").locator("g.marker.incident")
    expect(marker).to_have_count(1)
    expect(marker).to_be_visible()
    expect(marker.locator("text")).to_have_text("S1")
    expect(marker.locator("title")).to_contain_text(
        "SEV1 · critical incident “Card payments fail” started"
    )
    earlier = vic.locator("g.lane", has_text="2.5.0").locator("g.marker.incident")
    expect(earlier.locator("text")).to_have_text("S3")
    picture(vic.locator(".timeline-card"), "timeline-incidents")
