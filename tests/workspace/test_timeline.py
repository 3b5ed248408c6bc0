"""The timeline: releases against the calendar, planned against actual, freeze windows shaded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from releases.models import FreezeWindow, Incident, Release
from releases.services.incidents import record_incident
from releases.services.lifecycle import lock_scope
from tests.builders import make_cast, make_monitoring, make_release
from tests.bulk import seed_releases
from tests.html import client_for

pytestmark = pytest.mark.django_db


def timeline(user, **params) -> str:
    return client_for(user).get(reverse("timeline"), params).content.decode()


def planned(days: int) -> dict:
    start = timezone.now() + dt.timedelta(days=days)
    return {
        "code_freeze_at": start - dt.timedelta(days=3),
        "go_no_go_at": start - dt.timedelta(days=1),
        "deploy_window_start": start,
        "deploy_window_end": start + dt.timedelta(hours=2),
    }


def test_it_draws_my_releases_with_planned_and_actual_milestones(cast):
    release = make_release(cast, "2.0.0", **planned(5))
    lock_scope(release, by=cast.rita)
    page = timeline(cast.vic)
    assert "<svg" in page
    assert ">2.0.0</text>" in page
    assert "Code freeze planned:" in page
    assert "Code freeze done:" in page
    assert "Planned deploy window" in page
    # The same dates as a table, readable without the chart.
    assert "Planned against actual" in page


def test_it_shades_one_off_and_weekly_freeze_windows(cast):
    make_release(cast, "2.0.0", **planned(5))
    FreezeWindow.objects.create(
        project=cast.project,
        reason="Peak trading",
        starts_at=timezone.now() + dt.timedelta(days=2),
        ends_at=timezone.now() + dt.timedelta(days=4),
    )
    FreezeWindow.objects.create(
        project=cast.project,
        reason="Weekend",
        recurrence="weekly",
        start_weekday=4,
        start_time=dt.time(15),
        end_weekday=0,
        end_time=dt.time(8),
    )
    page = timeline(cast.rita)
    assert page.count('<rect class="freeze"') >= 1 + 8  # one-off plus a weekend per week shown
    assert "Freeze: Peak trading" in page
    assert "Freeze: Weekend" in page


def test_it_hides_other_projects_and_filters_by_project(cast):
    other = make_cast("search")
    make_release(other, "7.0.0", **planned(3))
    make_release(cast, "2.0.0", **planned(3))
    page = timeline(cast.rita)
    assert ">2.0.0</text>" in page
    assert ">7.0.0</text>" not in page
    assert ">2.0.0</text>" not in timeline(cast.rita, project="search")


def test_it_moves_the_range(cast):
    make_release(cast, "2.0.0", **planned(3))
    far = (timezone.now() + dt.timedelta(weeks=20)).date().isoformat()
    page = timeline(cast.rita, **{"from": far})
    assert "No release has anything planned or done" in page
    assert timeline(cast.rita, **{"from": "garbage"}).count(">2.0.0</text>") == 1


def lane_of(page: str, version: str) -> str:
    lanes = [lane.split("</svg>")[0] for lane in page.split('<g class="lane')[1:]]
    return next(lane for lane in lanes if f">{version}</text>" in lane)


def test_it_marks_incidents_on_their_releases_row_with_their_severity(cast):
    release = make_monitoring(make_release(cast, "2.0.0"), cast)
    make_release(cast, "2.1.0", **planned(5))
    started = release.deploy_started_at
    record_incident(
        release,
        by=cast.dana,
        title="Checkout errors",
        severity="sev3",
        started_at=started,
        resolved_at=timezone.now(),
    )
    record_incident(release, by=cast.dana, title="Card payments down", severity="sev1")

    page = timeline(cast.vic)

    lane = lane_of(page, "2.0.0")
    assert '<g class="marker actual incident sev1">' in lane
    assert '<g class="marker actual incident sev3">' in lane
    assert ">S1</text>" in lane
    assert "SEV1 · critical incident “Card payments down” started:" in lane
    assert "SEV1 · critical incident “Card payments down”, still open</title>" in lane
    assert "SEV3 · minor incident “Checkout errors”, resolved " in lane
    assert lane.count('class="bar bar-incident') == 2
    assert "incident" not in lane_of(page, "2.1.0")
    # The table beside the chart lists them too.
    assert "SEV1 · critical Card payments down" in page
    assert "still open</span>" in page


def test_it_leaves_out_incidents_outside_the_range(cast):
    release = make_monitoring(make_release(cast, "2.0.0"), cast)
    record_incident(release, by=cast.dana, title="Checkout errors", severity="sev2")
    Incident.objects.update(
        started_at=timezone.now() - dt.timedelta(weeks=30),
        resolved_at=timezone.now() - dt.timedelta(weeks=29),
    )

    lane = lane_of(timeline(cast.vic), "2.0.0")

    assert "incident" not in lane


@pytest.mark.parametrize("count", [10, 200])
def test_it_draws_any_number_of_releases_and_incidents_in_the_same_queries(
    cast, count, django_assert_max_num_queries
):
    seed_releases(cast.project, count)
    now = timezone.now()
    Incident.objects.bulk_create(
        Incident(
            project=cast.project,
            release=release,
            title="Errors",
            severity=severity,
            started_at=now + dt.timedelta(hours=n),
            resolved_at=now + dt.timedelta(hours=n + 1) if n % 2 else None,
        )
        for n, release in enumerate(Release.objects.all())
        for severity in ("sev1", "sev3")
    )
    client = client_for(cast.rita)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("timeline"))
    assert response.status_code == 200
    assert response.content.decode().count('class="marker actual incident') == 2 * min(count, 40)


def test_it_pages_through_many_releases(cast):
    seed_releases(cast.project, 45)
    page = timeline(cast.rita)
    assert page.count('<g class="lane') == 40
    assert "Releases 1–40 of 45 in this range" in page
    assert timeline(cast.rita, page=2).count('<g class="lane') == 5


@pytest.mark.parametrize("start", ["0001-01-01", "9999-12-31"])
def test_it_shows_the_weeks_around_today_for_a_start_at_the_ends_of_the_calendar(cast, start):
    make_release(cast, "2.0.0", **planned(5))

    page = timeline(cast.vic, **{"from": start})

    assert ">2.0.0</text>" in page


def test_it_shows_no_releases_for_a_project_that_cannot_exist(cast):
    make_release(cast, "2.0.0", **planned(5))

    page = timeline(cast.vic, project="pay\x00ments")

    assert ">2.0.0</text>" not in page
