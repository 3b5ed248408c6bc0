"""The project's calendar feed: what it holds, its secret address, rotating and revoking it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Component

from lib.errors import NotAllowed
from releases.models import CalendarFeed, FreezeWindow, ProjectEvent
from releases.services.calendar import open_calendar_feed, revoke_calendar_feed
from releases.services.freeze_windows import save_freeze_window
from releases.services.incidents import record_incident
from releases.services.lifecycle import cancel_release
from releases.services.releases import update_release
from tests.builders import make_monitoring, make_release
from tests.html import client_for

pytestmark = pytest.mark.django_db


def feed_of(feed: CalendarFeed) -> Calendar:
    response = Client().get(feed.get_absolute_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, Component]:
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


def moment(event: Component, name: str) -> dt.datetime:
    value = event.decoded(name)
    assert isinstance(value, dt.datetime)
    return value


def test_it_serves_milestones_deploy_windows_and_freeze_windows_without_sign_in(cast):
    start = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    release = make_release(cast, "2.4.0")
    update_release(
        release,
        by=cast.rita,
        code_freeze_at=start - dt.timedelta(days=2),
        go_no_go_at=start - dt.timedelta(days=1),
        deploy_window_start=start,
        deploy_window_end=start + dt.timedelta(hours=2),
    )
    cancel_release(make_release(cast, "2.3.0"), by=cast.rita, reason="Dropped")
    save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Year end",
        recurrence=FreezeWindow.Recurrence.ONCE,
        starts_at=start + dt.timedelta(days=5),
        ends_at=start + dt.timedelta(days=9),
    )
    save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Weekend",
        recurrence=FreezeWindow.Recurrence.WEEKLY,
        start_weekday=4,
        start_time=dt.time(15),
        end_weekday=0,
        end_time=dt.time(8),
        timezone="Europe/Berlin",
    )

    calendar = feed_of(open_calendar_feed(cast.project, by=cast.rita))

    assert str(calendar["x-wr-calname"]) == "Payments releases"
    found = events(calendar)
    window = found["Payments 2.4.0: deploy window"]
    assert moment(window, "dtstart") == start
    assert moment(window, "dtend") == start + dt.timedelta(hours=2)
    assert str(window["url"]).endswith(release.get_absolute_url())
    assert moment(found["Payments 2.4.0: code freeze"], "dtstart") == start - dt.timedelta(days=2)
    assert moment(found["Payments 2.4.0: go/no-go meeting"], "dtstart") == start - dt.timedelta(
        days=1
    )
    assert not any("2.3.0" in summary for summary in found)
    year_end = found["Payments: freeze – Year end"]
    assert moment(year_end, "dtstart") == start + dt.timedelta(days=5)
    assert moment(year_end, "dtend") == start + dt.timedelta(days=9)
    weekends = [e for e in calendar.walk("VEVENT") if str(e["summary"]).endswith("Weekend")]
    assert len(weekends) >= 50
    assert all(moment(e, "dtstart").astimezone(dt.UTC).weekday() == 4 for e in weekends)
    assert len({str(e["uid"]) for e in calendar.walk("VEVENT")}) == len(calendar.walk("VEVENT"))


def test_it_holds_each_incident_over_the_time_it_lasted(cast):
    release = make_monitoring(make_release(cast, "2.6.0"), cast)
    started = release.deploy_started_at
    assert started is not None
    resolved = record_incident(
        release,
        by=cast.dana,
        title="Checkout errors",
        severity="sev2",
        started_at=started,
        resolved_at=timezone.now(),
        link="https://pager.example.com/incidents/42",
    )
    record_incident(release, by=cast.dana, title="Card payments fail", severity="sev1")

    calendar = feed_of(open_calendar_feed(cast.project, by=cast.rita))

    found = events(calendar)
    over = found["Payments 2.6.0: SEV2 incident – Checkout errors"]
    assert moment(over, "dtstart") == started.replace(microsecond=0)
    assert resolved.resolved_at is not None
    assert moment(over, "dtend") == resolved.resolved_at.replace(microsecond=0)
    assert b"CATEGORIES:Incident" in over.to_ical()
    assert str(over["url"]).endswith(release.get_absolute_url())
    # The address needs no sign-in: the incident tool's link is not in it.
    assert not any(
        "pager.example.com" in str(value) for e in calendar.walk("VEVENT") for value in e.values()
    )
    still = found["Payments 2.6.0: SEV1 incident – Card payments fail (open)"]
    assert "still open" in str(still["description"])


def test_it_answers_404_once_the_address_is_rotated_or_revoked(cast):
    first = open_calendar_feed(cast.project, by=cast.rita)
    old_url = first.get_absolute_url()
    second = open_calendar_feed(cast.project, by=cast.rita)
    assert second.secret != first.secret
    assert Client().get(old_url).status_code == 404
    assert Client().get(second.get_absolute_url()).status_code == 200

    assert revoke_calendar_feed(cast.project, by=cast.rita) is True
    assert Client().get(second.get_absolute_url()).status_code == 404
    assert Client().get("/calendar/" + "x" * 500 + ".ics").status_code == 404

    logged = list(
        ProjectEvent.objects.filter(project=cast.project, kind="calendar_feed")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert logged == ["created", "rotated", "revoked"]
    secrets_in_log = ProjectEvent.objects.filter(summary__contains=first.secret[:10])
    assert not secrets_in_log.exists()


def test_it_lets_only_release_managers_make_or_revoke_the_address(cast):
    with pytest.raises(NotAllowed):
        open_calendar_feed(cast.project, by=cast.dana)
    open_calendar_feed(cast.project, by=cast.rita)
    with pytest.raises(NotAllowed):
        revoke_calendar_feed(cast.project, by=cast.vic)
    response = client_for(cast.vic).post(reverse("calendar_feed_revoke", args=[cast.project.slug]))
    assert response.status_code == 403
    assert CalendarFeed.objects.filter(project=cast.project).exists()
    assert (
        client_for(cast.otto)
        .post(reverse("calendar_feed_open", args=[cast.project.slug]))
        .status_code
        == 404
    )


def test_it_shows_the_address_in_settings_and_links_it_from_the_timeline(cast):
    rita = client_for(cast.rita)
    settings_url = reverse("project_settings", args=[cast.project.slug])
    assert "No calendar address yet." in rita.get(settings_url).content.decode()
    response = rita.post(reverse("calendar_feed_open", args=[cast.project.slug]))
    assert response.status_code == 302
    feed = CalendarFeed.objects.get(project=cast.project)
    page = client_for(cast.vic).get(settings_url).content.decode()
    assert f'{feed.get_absolute_url()}"' in page
    assert 'id="calendar-open"' not in page
    timeline = client_for(cast.vic).get(reverse("timeline")).content.decode()
    assert f'href="{feed.get_absolute_url()}"' in timeline
