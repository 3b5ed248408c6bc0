"""The release trains page: trains, their coming departures and releases, skipping one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from releases.models import Release, ReleaseTrain, Status, TrainSlot
from releases.services import trains
from tests.html import client_for

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def weekly(cast, name="Weekly", **fields) -> ReleaseTrain:
    values = {
        "name": name,
        "cadence_weeks": 1,
        "first_deploy_date": today() + dt.timedelta(days=3),
        "deploy_time": dt.time(14, 0),
        "timezone": "UTC",
        "create_days_ahead": 14,
        "version_template": f"{name.lower()}-{{date:%Y.%m.%d}}",
    }
    return trains.save_train(cast.project, by=cast.rita, **(values | fields))


def page_url(cast) -> str:
    return reverse("project_trains", args=[cast.project.slug])


def skip_url(cast, train, day: dt.date) -> str:
    return reverse("slot_skip", args=[cast.project.slug, train.pk, day.isoformat()])


def form_data(prefix: str, **changes) -> dict:
    data = {
        "name": "Fortnightly",
        "kind": "standard",
        "cadence_weeks": 2,
        "first_deploy_date": (today() + dt.timedelta(days=5)).isoformat(),
        "deploy_time": "15:30",
        "deploy_duration_minutes": 90,
        "timezone": "Europe/Berlin",
        "code_freeze_days_before": 2,
        "go_no_go_hours_before": 4,
        "create_days_ahead": 10,
        "freeze_reminder_hours": 24,
        "version_template": "{date:%Y.%m.%d}",
        "active": "on",
    } | changes
    return {f"{prefix}-{name}": value for name, value in data.items() if value is not None}


def test_it_lists_the_trains_with_their_departures_and_releases(cast):
    train = weekly(cast)
    trains.schedule_train_releases()
    first, second = train.slot_dates(today(), today() + dt.timedelta(days=14))[:2]
    release = Release.objects.get(train_slot__deploy_date=first)
    page = client_for(cast.vic).get(page_url(cast)).content.decode()
    assert "Standard release every week on" in page
    row = page.split(f'id="slot-{train.pk}-{first:%Y%m%d}"')[1].split("</tr>")[0]
    assert f'href="{release.get_absolute_url()}"' in row
    assert "Planning" in row
    assert f"{first:%-d %b %Y}, 14:00" in row
    row = page.split(f'id="slot-{train.pk}-{second:%Y%m%d}"')[1].split("</tr>")[0]
    assert Release.objects.get(train_slot__deploy_date=second).get_absolute_url() in row
    later = today() + dt.timedelta(days=3 + 21)
    row = page.split(f'id="slot-{train.pk}-{later:%Y%m%d}"')[1].split("</tr>")[0]
    created_on = later - dt.timedelta(days=14)
    assert f"No release yet; created on {created_on:%a %-d %b}" in row
    assert f"weekly-{later:%Y.%m.%d}" in row
    # A viewer reads; nothing to press.
    assert "You can read the trains" in page
    assert 'method="post" action="/projects' not in page


def test_it_says_a_due_departure_has_no_release_yet_until_beat_creates_it(cast):
    train = weekly(cast)  # its first departure is in three days: its release is due already
    first = train.slot_dates(today(), today() + dt.timedelta(days=7))[0]
    page = client_for(cast.rita).get(page_url(cast)).content.decode()
    row = page.split(f'id="slot-{train.pk}-{first:%Y%m%d}"')[1].split("</tr>")[0]
    assert "No release yet: beat creates it on its next run" in row
    assert "created on" not in row.lower()

    trains.schedule_train_releases()
    page = client_for(cast.rita).get(page_url(cast)).content.decode()
    row = page.split(f'id="slot-{train.pk}-{first:%Y%m%d}"')[1].split("</tr>")[0]
    assert Release.objects.get(train_slot__deploy_date=first).get_absolute_url() in row
    assert "No release yet" not in row


def test_it_hides_the_trains_from_outsiders(cast):
    train = weekly(cast)
    assert client_for(cast.otto).get(page_url(cast)).status_code == 404
    response = client_for(cast.otto).post(
        skip_url(cast, train, train.first_deploy_date), {"reason": "x"}
    )
    assert response.status_code == 404
    assert not TrainSlot.objects.exists()


def test_it_creates_a_train(cast):
    response = client_for(cast.rita).post(
        reverse("train_add", args=[cast.project.slug]), form_data("tnew")
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(cast) + "#new-train"
    train = ReleaseTrain.objects.get()
    assert (train.name, train.cadence_weeks, train.timezone) == ("Fortnightly", 2, "Europe/Berlin")
    assert train.deploy_time == dt.time(15, 30)
    page = client_for(cast.rita).get(page_url(cast)).content.decode()
    assert "Standard release every 2 weeks on" in page
    assert "15:30 Europe/Berlin, a 90-minute deploy window" in page


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"cadence_weeks": 0}, "cadence_weeks", "greater than or equal to 1"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"version_template": "{version}"}, "version_template", "Use {date:…} and {n} only"),
        ({"first_deploy_date": None}, "first_deploy_date", "This field is required."),
    ],
)
def test_it_shows_field_errors_and_creates_nothing(cast, changes, field, error):
    response = client_for(cast.rita).post(
        reverse("train_add", args=[cast.project.slug]), form_data("tnew", **changes)
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "Please correct the highlighted fields." in body
    block = next(c for c in body.split('<div class="field')[1:] if f'id="id_tnew-{field}"' in c)
    assert block.startswith(" has-error")
    assert error in block
    assert not ReleaseTrain.objects.exists()


def test_it_refuses_a_second_train_of_the_same_name(cast):
    weekly(cast, name="Fortnightly")
    response = client_for(cast.rita).post(
        reverse("train_add", args=[cast.project.slug]), form_data("tnew")
    )
    assert response.status_code == 422
    assert "This project already has a train with that name." in response.content.decode()
    assert ReleaseTrain.objects.count() == 1


def test_it_changes_a_train(cast):
    train = weekly(cast)
    prefix = f"t{train.pk}"
    response = client_for(cast.rita).post(
        reverse("train_save", args=[cast.project.slug, train.pk]),
        form_data(prefix, name="Weekly", cadence_weeks=1, active=None),
    )
    assert response.status_code == 302
    train.refresh_from_db()
    assert train.active is False
    assert train.timezone == "Europe/Berlin"
    page = client_for(cast.rita).get(page_url(cast)).content.decode()
    assert "Paused: no releases are created" in page


def test_it_lets_only_release_managers_change_trains(cast):
    train = weekly(cast)
    for person in (cast.dana, cast.paul, cast.vic):
        client = client_for(person)
        response = client.post(reverse("train_add", args=[cast.project.slug]), form_data("tnew"))
        assert response.status_code == 403
        response = client.post(
            reverse("train_save", args=[cast.project.slug, train.pk]),
            form_data(f"t{train.pk}", active=None),
        )
        assert response.status_code == 403
        response = client.post(
            skip_url(cast, train, train.first_deploy_date),
            {f"skip{train.pk}-{train.first_deploy_date:%Y%m%d}-reason": "holiday"},
        )
        assert response.status_code == 403
    assert ReleaseTrain.objects.count() == 1
    train.refresh_from_db()
    assert train.active is True
    assert not TrainSlot.objects.exists()


def test_it_skips_a_departure_and_cancels_its_planned_release(cast):
    train = weekly(cast)
    trains.schedule_train_releases()
    day = train.first_deploy_date
    release = Release.objects.get(train_slot__deploy_date=day)
    client = client_for(cast.rita)
    page = client.get(page_url(cast)).content.decode()
    assert f'id="skip{train.pk}-{day:%Y%m%d}-skip"' in page
    response = client.post(
        skip_url(cast, train, day), {f"skip{train.pk}-{day:%Y%m%d}-reason": "Public holiday"}
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == Status.CANCELLED
    page = client.get(page_url(cast)).content.decode()
    assert f"{train.name} on {day:%a %d %b %Y} skipped." in page
    row = page.split(f'id="slot-{train.pk}-{day:%Y%m%d}"')[1].split("</tr>")[0]
    assert "Skipped" in row
    assert "by Rita: Public holiday" in row
    assert "was cancelled" in row
    assert f'id="skip{train.pk}-{day:%Y%m%d}-skip"' not in row


def test_it_skips_a_departure_before_its_release_exists(cast):
    train = weekly(cast)
    later = train.first_deploy_date + dt.timedelta(weeks=4)
    response = client_for(cast.rita).post(
        skip_url(cast, train, later), {f"skip{train.pk}-{later:%Y%m%d}-reason": "Team offsite"}
    )
    assert response.status_code == 302
    slot = TrainSlot.objects.get(deploy_date=later)
    assert slot.skip_reason == "Team offsite"
    assert slot.release is None


def test_it_needs_a_reason_to_skip_and_changes_nothing_without_one(cast):
    train = weekly(cast)
    trains.schedule_train_releases()
    day = train.first_deploy_date
    key = f"skip{train.pk}-{day:%Y%m%d}"
    response = client_for(cast.rita).post(skip_url(cast, train, day), {f"{key}-reason": "  "})
    assert response.status_code == 422
    body = response.content.decode()
    assert f'id="{key}-error"' in body
    assert "This field is required." in body
    assert TrainSlot.objects.get(deploy_date=day).skipped_at is None
    assert Release.objects.get(train_slot__deploy_date=day).status == Status.PLANNING


def test_it_refuses_to_skip_a_departure_that_is_not_on_the_train(cast):
    train = weekly(cast)
    off = train.first_deploy_date + dt.timedelta(days=1)
    response = client_for(cast.rita).post(
        skip_url(cast, train, off), {f"skip{train.pk}-{off:%Y%m%d}-reason": "x"}
    )
    assert response.status_code == 404
    assert not TrainSlot.objects.exists()
    bad = reverse("slot_skip", args=[cast.project.slug, train.pk, "not-a-day"])
    assert client_for(cast.rita).post(bad, {}).status_code == 404


def test_it_says_why_a_release_in_flight_cannot_be_skipped(cast):
    train = weekly(cast)
    trains.schedule_train_releases()
    day = train.first_deploy_date
    Release.objects.filter(train_slot__deploy_date=day).update(status=Status.APPROVED)
    response = client_for(cast.rita).post(
        skip_url(cast, train, day), {f"skip{train.pk}-{day:%Y%m%d}-reason": "late"}
    )
    assert response.status_code == 409
    assert "already approved; cancel or roll it back instead" in response.content.decode()
    assert TrainSlot.objects.get(deploy_date=day).skipped_at is None


def test_it_shows_why_a_release_could_not_be_created(cast):
    train = weekly(cast)
    day = train.first_deploy_date
    Release.objects.create(project=cast.project, version=train.version_for(day))
    trains.schedule_train_releases()
    page = client_for(cast.rita).get(page_url(cast)).content.decode()
    row = page.split(f'id="slot-{train.pk}-{day:%Y%m%d}"')[1].split("</tr>")[0]
    assert "Not created" in row
    assert TrainSlot.objects.get(deploy_date=day).problem in row


@pytest.mark.parametrize("count", [2, 12])
def test_it_reads_the_trains_in_the_same_number_of_queries_however_many(
    cast, count, django_assert_max_num_queries
):
    for n in range(count):
        weekly(cast, name=f"Train {n}")
    trains.schedule_train_releases()
    assert TrainSlot.objects.count() == 2 * count
    client = client_for(cast.rita)
    with django_assert_max_num_queries(9):
        response = client.get(page_url(cast))
    assert response.status_code == 200
    assert f"Train {count - 1}" in response.content.decode()


def test_it_summarises_the_trains_in_the_project_settings_and_links_them(cast):
    weekly(cast, active=False)
    settings = reverse("project_settings", args=[cast.project.slug])
    page = client_for(cast.vic).get(settings).content.decode()
    section = page.split('id="trains"')[1].split("</section>")[0]
    assert "<strong>Weekly</strong> – every week on" in section
    assert "Paused" in section
    assert f'href="{page_url(cast)}"' in section
