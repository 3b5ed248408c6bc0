"""Release trains over the API: set one up, read its coming departures, skip one with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from releases.models import Release, ReleaseTrain, Status, TrainSlot
from releases.services import trains
from tests.api.conftest import bearer, project_token

pytestmark = pytest.mark.django_db

TRAINS = "/api/projects/payments/trains/"


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


@pytest.fixture
def rita(cast) -> APIClient:
    client = APIClient()
    client.force_login(cast.rita)
    return client


def weekly(rita: APIClient, **changes) -> dict:
    body = {
        "name": "Weekly",
        "cadence_weeks": 1,
        "first_deploy_date": (today() + dt.timedelta(days=3)).isoformat(),
        "deploy_time": "14:00",
        "timezone": "UTC",
        "create_days_ahead": 10,
        "version_template": "w-{date:%Y.%m.%d}",
    } | changes
    response = rita.post(TRAINS, body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_sets_up_a_train_whose_releases_beat_creates(cast, rita):
    created = weekly(rita, deploy_duration_minutes=90)

    assert created["deploy_time"] == "14:00:00"
    assert created["active"] is True
    trains.schedule_train_releases()
    day = today() + dt.timedelta(days=3)
    first = Release.objects.get(train_slot__train_id=created["id"], train_slot__deploy_date=day)
    assert first.version == f"w-{day:%Y.%m.%d}"
    assert first.deploy_window_start == dt.datetime.combine(day, dt.time(14), tzinfo=dt.UTC)
    assert first.deploy_window_end is not None
    assert first.deploy_window_end - first.deploy_window_start == dt.timedelta(minutes=90)


def test_it_lists_the_coming_departures_with_their_release_or_problem(cast, rita):
    train = weekly(rita)
    day = today() + dt.timedelta(days=3)
    # Someone already used the version of the second departure: beat cannot create its release.
    clash = f"w-{day + dt.timedelta(days=7):%Y.%m.%d}"
    Release.objects.create(project=cast.project, version=clash)
    trains.schedule_train_releases()

    response = rita.get(f"{TRAINS}{train['id']}/slots/?count=3")

    assert response.status_code == 200, response.json()
    first, second, third = response.json()
    assert first["deploy_date"] == day.isoformat()
    assert first["release"]["version"] == f"w-{day:%Y.%m.%d}"
    assert first["release"]["status"] == "planning"
    assert first["can_skip"] is True
    assert second["release"] is None
    assert f"already has a release {clash}" in second["problem"]
    # Beyond the look-ahead: not created yet, and when it will be.
    assert third["release"] is None
    assert third["problem"] == ""
    assert third["created_on"] == (day + dt.timedelta(days=14 - 10)).isoformat()


def test_it_skips_a_departure_and_cancels_its_planned_release(cast, rita):
    train = weekly(rita)
    trains.schedule_train_releases()
    day = today() + dt.timedelta(days=3)

    response = rita.post(
        f"{TRAINS}{train['id']}/skip/", {"deploy_date": day.isoformat(), "reason": "Team offsite"}
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["skipped"] is True
    assert body["skipped_by"] == "rita"
    assert body["skip_reason"] == "Team offsite"
    assert body["release"]["status"] == "cancelled"
    again = rita.post(
        f"{TRAINS}{train['id']}/skip/", {"deploy_date": day.isoformat(), "reason": "Twice"}
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "This slot is already skipped."}


def test_it_refuses_to_skip_a_day_without_departure_or_a_release_under_way(cast, rita):
    train = weekly(rita)
    trains.schedule_train_releases()
    day = today() + dt.timedelta(days=3)
    Release.objects.filter(train_slot__deploy_date=day).update(status=Status.DEPLOYING)
    url = f"{TRAINS}{train['id']}/skip/"

    no_departure = rita.post(
        url, {"deploy_date": (day + dt.timedelta(days=1)).isoformat(), "reason": "x"}
    )
    under_way = rita.post(url, {"deploy_date": day.isoformat(), "reason": "Too late"})
    no_reason = rita.post(url, {"deploy_date": day.isoformat(), "reason": "  "})

    assert no_departure.status_code == 400
    assert list(no_departure.json()) == ["deploy_date"]
    assert under_way.status_code == 409
    assert "already deploying" in under_way.json()["detail"]
    assert no_reason.status_code == 400
    assert list(no_reason.json()) == ["reason"]
    assert not TrainSlot.objects.filter(skipped_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version_template": "{week}"}, "version_template"),
        ({"version_template": "{n:>999999999}"}, "version_template"),
        ({"version_template": "{date[0]}"}, "version_template"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"cadence_weeks": 13}, "cadence_weeks"),
        ({"deploy_duration_minutes": 0}, "deploy_duration_minutes"),
        ({"create_days_ahead": 181}, "create_days_ahead"),
        ({"deploy_time": "25:00"}, "deploy_time"),
    ],
)
def test_it_answers_field_errors_for_a_train_that_cannot_run(cast, rita, changes, field):
    body = {"name": "Broken", "first_deploy_date": today().isoformat()} | changes

    response = rita.post(TRAINS, body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not ReleaseTrain.objects.exists()


def test_it_refuses_a_second_train_of_the_same_name_and_keeps_the_first(cast, rita):
    first = weekly(rita)

    clash = rita.post(TRAINS, {"name": "Weekly", "first_deploy_date": today().isoformat()})
    paused = rita.patch(f"{TRAINS}{first['id']}/", {"active": False, "cadence_weeks": 2})

    assert clash.status_code == 400
    assert clash.json() == {"name": ["This project already has a train with that name."]}
    assert paused.status_code == 200, paused.json()
    train = ReleaseTrain.objects.get()
    assert (train.active, train.cadence_weeks) == (False, 2)


def test_it_lets_the_project_token_read_trains_but_not_change_them(cast, rita):
    train = weekly(rita)
    ci = bearer(project_token(cast))

    listed = ci.get(TRAINS)
    departures = ci.get(f"{TRAINS}{train['id']}/slots/")
    changed = ci.patch(f"{TRAINS}{train['id']}/", {"active": False})
    skipped = ci.post(
        f"{TRAINS}{train['id']}/skip/",
        {"deploy_date": train["first_deploy_date"], "reason": "CI says so"},
    )

    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["results"]] == ["Weekly"]
    assert departures.status_code == 200
    assert len(departures.json()) == 6
    assert changed.status_code == 403
    assert skipped.status_code == 403
    assert ReleaseTrain.objects.get().active is True
