"""Freeze windows: one-off and weekly (in their own time zone), the deploy refusal and the
release manager's audited override, and the periods the timeline and release page show."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from approvals.services.deploy import start_deploy
from lib.errors import NotAllowed, Refused
from releases.models import FreezeWindow, Notification, Project, Release, Status
from releases.services.freeze_windows import (
    freeze_windows_for_release,
    freeze_windows_overlapping,
    save_freeze_window,
)
from releases.services.projects import set_project_roles
from releases.services.releases import update_release
from tests.builders import make_approved, make_cast

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def weekend_freeze(cast, **fields) -> FreezeWindow:
    values: dict[str, Any] = {
        "reason": "Weekend freeze",
        "recurrence": "weekly",
        "start_weekday": FreezeWindow.Weekday.FRIDAY,
        "start_time": dt.time(15, 0),
        "end_weekday": FreezeWindow.Weekday.MONDAY,
        "end_time": dt.time(8, 0),
        "timezone": "Europe/Berlin",
    } | fields
    return save_freeze_window(cast.project, by=cast.rita, **values)


def black_friday(cast) -> FreezeWindow:
    return save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Black Friday",
        starts_at=utc(2026, 11, 27, 0, 0),
        ends_at=utc(2026, 11, 30, 6, 0),
    )


class TestCoverage:
    def test_it_covers_a_one_off_window_from_start_to_end(self, cast):
        window = black_friday(cast)
        assert not window.covers(utc(2026, 11, 26, 23, 59))
        assert window.covers(utc(2026, 11, 27, 0, 0))
        assert window.covers(utc(2026, 11, 30, 5, 59))
        assert not window.covers(utc(2026, 11, 30, 6, 0))

    def test_it_spans_the_weekend_in_the_windows_time_zone(self, cast):
        window = weekend_freeze(cast)
        # Winter: Berlin is UTC+1. Friday 15:00 local is 14:00 UTC.
        assert not window.covers(utc(2026, 1, 16, 13, 59))
        assert window.covers(utc(2026, 1, 16, 14, 0))
        assert window.covers(utc(2026, 1, 17, 12, 0))  # Saturday
        assert window.covers(utc(2026, 1, 18, 23, 0))  # Sunday night
        assert window.covers(utc(2026, 1, 19, 6, 59))  # Monday 07:59 local
        assert not window.covers(utc(2026, 1, 19, 7, 0))  # Monday 08:00 local
        assert not window.covers(utc(2026, 1, 21, 12, 0))  # Wednesday

    def test_it_follows_the_clock_change_inside_the_window(self, cast):
        window = weekend_freeze(cast)
        # Clocks go forward on Sunday 29 March 2026: Friday opens at 15:00 CET (14:00 UTC),
        # Monday closes at 08:00 CEST (06:00 UTC), two hours earlier in UTC than it opened.
        (period,) = window.occurrences(utc(2026, 3, 28, 12, 0), utc(2026, 3, 28, 13, 0))
        assert period == (utc(2026, 3, 27, 14, 0), utc(2026, 3, 30, 6, 0))
        assert period[0].astimezone(BERLIN).hour == 15
        assert period[1].astimezone(BERLIN).hour == 8
        assert window.covers(utc(2026, 3, 30, 5, 59))
        assert not window.covers(utc(2026, 3, 30, 6, 30))  # 08:30 local: open for deploys

    def test_it_follows_the_clock_change_back_in_autumn(self, cast):
        window = weekend_freeze(cast)
        # Clocks go back on Sunday 25 October 2026: opens 15:00 CEST, closes 08:00 CET.
        (period,) = window.occurrences(utc(2026, 10, 24, 12, 0), utc(2026, 10, 24, 13, 0))
        assert period == (utc(2026, 10, 23, 13, 0), utc(2026, 10, 26, 7, 0))
        assert window.covers(utc(2026, 10, 26, 6, 30))  # 07:30 local: still frozen

    def test_it_repeats_a_same_day_window_every_week(self, cast):
        window = save_freeze_window(
            cast.project,
            by=cast.rita,
            reason="Payroll run",
            recurrence="weekly",
            start_weekday=FreezeWindow.Weekday.WEDNESDAY,
            start_time=dt.time(9, 0),
            end_weekday=FreezeWindow.Weekday.WEDNESDAY,
            end_time=dt.time(11, 0),
            timezone="America/New_York",
        )
        periods = window.occurrences(utc(2026, 6, 1), utc(2026, 6, 22))
        assert periods == [
            (utc(2026, 6, 3, 13, 0), utc(2026, 6, 3, 15, 0)),
            (utc(2026, 6, 10, 13, 0), utc(2026, 6, 10, 15, 0)),
            (utc(2026, 6, 17, 13, 0), utc(2026, 6, 17, 15, 0)),
        ]


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"reason": " "}, "reason"),
            ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
            ({"end_weekday": None}, "end_weekday"),
            ({"end_weekday": FreezeWindow.Weekday.FRIDAY, "end_time": dt.time(15, 0)}, "end_time"),
        ],
    )
    def test_it_refuses_a_bad_weekly_window_with_a_field_error(self, cast, fields, field):
        with pytest.raises(ValidationError) as error:
            weekend_freeze(cast, **fields)
        assert field in error.value.message_dict
        assert not FreezeWindow.objects.exists()

    def test_it_refuses_a_one_off_window_that_ends_before_it_starts(self, cast):
        with pytest.raises(ValidationError) as error:
            save_freeze_window(
                cast.project,
                by=cast.rita,
                reason="Backwards",
                starts_at=utc(2026, 5, 2),
                ends_at=utc(2026, 5, 1),
            )
        assert "ends_at" in error.value.message_dict
        assert not FreezeWindow.objects.exists()


class TestOverlapping:
    def test_it_lists_the_periods_overlapping_a_range_earliest_first(self, cast, other_cast):
        weekend = weekend_freeze(cast)
        friday = black_friday(cast)
        weekend_freeze(other_cast, reason="Someone else's weekend")
        periods = freeze_windows_overlapping(cast.project, utc(2026, 11, 25), utc(2026, 12, 2))
        assert [(p.window, p.starts_at, p.ends_at) for p in periods] == [
            (friday, utc(2026, 11, 27, 0, 0), utc(2026, 11, 30, 6, 0)),
            (weekend, utc(2026, 11, 27, 14, 0), utc(2026, 11, 30, 7, 0)),
        ]
        assert periods[0].reason == "Black Friday"

    def test_it_finds_nothing_in_a_range_between_windows(self, cast):
        weekend_freeze(cast)
        black_friday(cast)
        assert freeze_windows_overlapping(cast.project, utc(2026, 1, 20), utc(2026, 1, 22)) == []

    def test_it_refuses_a_range_that_ends_before_it_starts(self, cast):
        with pytest.raises(ValidationError):
            freeze_windows_overlapping(cast.project, utc(2026, 1, 22), utc(2026, 1, 20))

    def test_it_tells_the_release_page_when_the_planned_deploy_runs_into_a_window(
        self, cast, release
    ):
        weekend_freeze(cast)
        update_release(
            release,
            by=cast.rita,
            deploy_window_start=utc(2026, 1, 16, 13, 0),  # Friday 14:00 Berlin
            deploy_window_end=utc(2026, 1, 16, 15, 0),
        )
        (period,) = freeze_windows_for_release(Release.objects.get(pk=release.pk))
        assert (period.reason, period.starts_at) == ("Weekend freeze", utc(2026, 1, 16, 14, 0))

        update_release(
            release,
            by=cast.rita,
            deploy_window_start=utc(2026, 1, 14, 9, 0),
            deploy_window_end=utc(2026, 1, 14, 11, 0),
        )
        assert freeze_windows_for_release(Release.objects.get(pk=release.pk)) == []

    def test_it_finds_nothing_for_a_release_without_a_planned_deploy(self, cast, release):
        weekend_freeze(cast)
        assert freeze_windows_for_release(release) == []

    def test_it_reads_many_projects_windows_in_a_fixed_number_of_queries(
        self, cast, other_cast, django_assert_max_num_queries
    ):
        for c in (cast, other_cast):
            weekend_freeze(c)
            black_friday(c)

        with django_assert_max_num_queries(2):
            projects = list(Project.objects.prefetch_related("freeze_windows"))
            found = [
                freeze_windows_overlapping(p, utc(2026, 11, 25), utc(2026, 12, 2)) for p in projects
            ]
        assert [len(f) for f in found] == [2, 2]


class TestDeploy:
    @pytest.fixture
    def approved(self, cast, release):
        return make_approved(release, cast)

    def test_it_refuses_a_deploy_inside_a_weekly_window_with_its_reason(
        self, cast, approved, time_machine
    ):
        weekend_freeze(cast)
        time_machine.move_to(utc(2026, 1, 17, 10, 0), tick=False)  # Saturday
        with pytest.raises(Refused) as error:
            start_deploy(approved, by=cast.dana)
        assert str(error.value) == (
            "Cannot start the deploy now: a freeze window is in force (Weekend freeze, every "
            "Friday 15:00 – Monday 08:00 Europe/Berlin). A release manager can override with "
            "a reason."
        )
        assert Release.objects.get(pk=approved.pk).status == Status.APPROVED

    def test_it_starts_a_deploy_outside_the_windows(self, cast, approved, time_machine):
        weekend_freeze(cast)
        time_machine.move_to(utc(2026, 1, 19, 7, 30), tick=False)  # Monday 08:30 Berlin
        start_deploy(approved, by=cast.dana)
        assert Release.objects.get(pk=approved.pk).status == Status.DEPLOYING

    def test_it_lets_only_a_release_manager_override(self, cast, approved, time_machine):
        weekend_freeze(cast)
        time_machine.move_to(utc(2026, 1, 17, 10, 0), tick=False)
        with pytest.raises(NotAllowed, match="Only a release manager can override"):
            start_deploy(approved, by=cast.dana, override_reason="Hotfix for a leak")
        assert Release.objects.get(pk=approved.pk).status == Status.APPROVED
        assert not approved.events.filter(verb="deploy_started").exists()

    def test_it_records_the_release_managers_override_and_tells_the_others(
        self, cast, approved, time_machine
    ):
        window = weekend_freeze(cast)
        other_manager = cast.paul
        set_project_roles(cast.project, other_manager, ["product", "release_manager"], by=cast.rita)
        time_machine.move_to(utc(2026, 1, 17, 10, 0), tick=False)

        start_deploy(approved, by=cast.rita, override_reason="Hotfix for a data leak")

        assert Release.objects.get(pk=approved.pk).status == Status.DEPLOYING
        event = approved.events.get(verb="deploy_started")
        assert event.actor == cast.rita
        assert event.data["override_reason"] == "Hotfix for a data leak"
        assert event.data["freeze_windows"] == [window.pk]
        assert "a freeze window is in force (Weekend freeze" in event.data["overridden"][0]
        assert "with an override (Hotfix for a data leak)" in event.summary
        assert "Weekend freeze" in event.summary
        note = Notification.objects.get(verb="override_used")
        assert note.user == other_manager
        assert "Hotfix for a data leak" in note.message

    def test_it_ignores_an_override_reason_when_nothing_is_overridden(self, cast, approved):
        start_deploy(approved, by=cast.dana, override_reason="habit")
        event = approved.events.get(verb="deploy_started")
        assert event.data == {}
        assert not Notification.objects.filter(verb="override_used").exists()


@pytest.fixture
def other_cast(cast):
    return make_cast("shipping")
