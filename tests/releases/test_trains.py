"""Release trains: one release per slot, created ahead, skippable, with a freeze reminder."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from lib.errors import Refused
from releases import tasks
from releases.models import Notification, Release, ReleaseTrain, Status, TrainSlot
from releases.services import trains
from tests.builders import make_cast

pytestmark = pytest.mark.django_db

# Thursday 26 November 2026, 09:00 UTC.
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def every_second_tuesday(cast, **fields) -> ReleaseTrain:
    values: dict[str, Any] = {
        "name": "Fortnightly",
        "cadence_weeks": 2,
        "first_deploy_date": dt.date(2026, 11, 17),  # a Tuesday
        "deploy_time": dt.time(14, 0),
        "timezone": "Europe/Berlin",
        "create_days_ahead": 21,
    }
    return trains.save_train(cast.project, by=cast.rita, **(values | fields))


def test_it_finds_every_second_tuesday(cast):
    train = every_second_tuesday(cast)
    days = train.slot_dates(dt.date(2026, 11, 26), dt.date(2027, 1, 10))
    assert days == [dt.date(2026, 12, 1), dt.date(2026, 12, 15), dt.date(2026, 12, 29)]
    assert all(day.weekday() == 1 for day in days)


def test_it_finds_departures_up_to_the_last_day_a_date_holds(cast):
    train = every_second_tuesday(cast, cadence_weeks=1)
    days = train.slot_dates(dt.date(9999, 12, 1), dt.date.max)
    assert days == [dt.date(9999, 12, d) for d in (7, 14, 21, 28)]
    assert train.slot_dates(dt.date(9999, 12, 29), dt.date.max) == []


def test_it_creates_the_releases_inside_the_look_ahead_with_the_plan(cast):
    train = every_second_tuesday(cast)
    trains.schedule_train_releases(now=NOW)
    releases = list(Release.objects.filter(train_slot__train=train).order_by("deploy_window_start"))
    assert [r.version for r in releases] == ["2026.12.01", "2026.12.15"]
    first = releases[0]
    # 14:00 in Berlin is 13:00 UTC in winter.
    assert first.deploy_window_start == dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC)
    assert first.deploy_window_end == dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
    assert first.code_freeze_at == dt.datetime(2026, 11, 29, 13, 0, tzinfo=dt.UTC)
    assert first.go_no_go_at == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert first.status == Status.PLANNING
    # The project's templates come with it.
    assert first.checklist_items.count() == 4
    assert first.assignments.filter(role="qa").exists()


def test_it_creates_one_release_per_slot_when_beat_ticks_twice(cast):
    every_second_tuesday(cast)
    trains.schedule_train_releases(now=NOW)
    trains.schedule_train_releases(now=NOW)
    assert Release.objects.count() == 2
    assert TrainSlot.objects.count() == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_it_creates_one_release_per_slot_when_two_ticks_race():
    cast = make_cast()
    every_second_tuesday(cast)
    barrier = threading.Barrier(4)
    errors = []

    def tick() -> None:
        try:
            barrier.wait()
            trains.schedule_train_releases(now=NOW)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Release.objects.count() == 2
    assert sorted(Release.objects.values_list("version", flat=True)) == ["2026.12.01", "2026.12.15"]


def test_it_skips_a_slot_before_its_release_exists(cast):
    train = every_second_tuesday(cast)
    trains.skip_slot(train, dt.date(2026, 12, 15), by=cast.rita, reason="Code freeze for holidays")
    trains.schedule_train_releases(now=NOW)
    assert list(Release.objects.values_list("version", flat=True)) == ["2026.12.01"]


def test_it_cancels_the_planned_release_of_a_skipped_slot(cast):
    train = every_second_tuesday(cast)
    trains.schedule_train_releases(now=NOW)
    slot = trains.skip_slot(train, dt.date(2026, 12, 1), by=cast.rita, reason="Team offsite")
    assert slot.release is not None
    slot.release.refresh_from_db()
    assert slot.release.status == Status.CANCELLED
    assert "Train slot skipped: Team offsite" in slot.release.events.get(verb="cancelled").summary
    trains.schedule_train_releases(now=NOW)
    assert Release.objects.count() == 2  # the skipped slot is not refilled


def test_it_refuses_to_skip_a_day_the_train_does_not_run(cast):
    train = every_second_tuesday(cast)
    with pytest.raises(ValidationError, match="has no slot on 2026-12-08"):
        trains.skip_slot(train, dt.date(2026, 12, 8), by=cast.rita, reason="x")


def test_it_refuses_to_skip_a_slot_whose_release_is_approved(cast):
    train = every_second_tuesday(cast)
    trains.schedule_train_releases(now=NOW)
    Release.objects.filter(version="2026.12.01").update(status=Status.APPROVED)
    with pytest.raises(Refused, match="already approved"):
        trains.skip_slot(train, dt.date(2026, 12, 1), by=cast.rita, reason="x")


def test_it_records_why_a_slot_got_no_release(cast):
    every_second_tuesday(cast)
    Release.objects.create(project=cast.project, version="2026.12.01")
    trains.schedule_train_releases(now=NOW)
    slot = TrainSlot.objects.get(deploy_date=dt.date(2026, 12, 1))
    assert slot.release is None
    assert "already has a release 2026.12.01" in slot.problem


def test_it_reminds_the_people_on_the_release_once_before_the_freeze(cast):
    every_second_tuesday(cast, freeze_reminder_hours=24)
    trains.schedule_train_releases(now=NOW)
    # Freeze of the 1 December slot is 29 November 13:00 UTC.
    assert trains.send_freeze_reminders(now=dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)) == 0
    later = dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC)
    assert trains.send_freeze_reminders(now=later) == 1
    assert trains.send_freeze_reminders(now=later) == 0
    reminded = Notification.objects.filter(verb="code_freeze_soon")
    assert {n.user.username for n in reminded} >= {"rita", "quinn", "devin"}
    first = reminded.first()
    assert first is not None
    assert "Code freeze for Payments 2026.12.01 in about 23 h" in first.message


@pytest.mark.parametrize(
    ("template", "version"),
    [
        ("{week}", None),
        ("{}", None),
        ("{date.year}", None),
        ("{n!r}", None),
        # A width this size would build a gigabyte-long version before anything refused it.
        ("{n:>999999999}", None),
        ("{date:%Y}", "2026"),
        ("{date:%Y}-{n:03d}", "2026-002"),
    ],
)
def test_it_validates_the_version_template(cast, template, version):
    if version is not None:
        train = every_second_tuesday(cast, version_template=template)
        assert train.version_for(dt.date(2026, 12, 1)) == version
    else:
        with pytest.raises(ValidationError) as error:
            every_second_tuesday(cast, version_template=template)
        assert "version_template" in error.value.message_dict
        assert not ReleaseTrain.objects.exists()


def test_it_runs_the_train_tasks_from_beat(cast, settings):
    every_second_tuesday(cast, create_days_ahead=180)
    assert "releases.tasks.schedule_trains" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    created = tasks.schedule_trains.delay().get()
    assert created == Release.objects.count() > 0
    assert tasks.schedule_trains.delay().get() == 0
