"""The API's conventions: error bodies and codes, pagination, filters, flat query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DataError, IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from lib.rest.errors import exception_handler
from releases.models import Incident, Release, ReleaseEvent
from releases.services.freeze_windows import save_freeze_window
from releases.services.lifecycle import lock_scope
from releases.services.notes import add_note
from releases.services.releases import create_release
from releases.services.rollback import carry_scope_forward, recommend_rollback, roll_back
from tests.api.conftest import bearer, project_token
from tests.builders import make_deploying, make_monitoring, make_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(cast) -> APIClient:
    client = APIClient()
    client.force_login(cast.rita)
    return client


def test_it_answers_a_refused_transition_with_409_and_the_reason(cast, release, rita):
    lock_scope(release, by=cast.rita)
    events = ReleaseEvent.objects.count()

    response = rita.post(f"/api/releases/{release.pk}/lock-scope/")

    assert response.status_code == 409
    assert response.json() == {"detail": "Cannot lock the scope: the release is scope frozen."}
    assert ReleaseEvent.objects.count() == events


def test_it_answers_bad_input_with_field_errors_and_changes_nothing(cast, release, rita):
    before = Release.objects.values().get(pk=release.pk)

    missing = rita.post(f"/api/releases/{release.pk}/cancel/", {"reason": "  "})
    backwards = rita.patch(
        f"/api/releases/{release.pk}/",
        {
            "deploy_window_start": "2031-05-02T10:00:00Z",
            "deploy_window_end": "2031-05-02T09:00:00Z",
        },
    )
    wrong_type = rita.patch(f"/api/releases/{release.pk}/", {"kind": "enormous"})

    assert missing.status_code == 400
    assert list(missing.json()) == ["reason"]
    assert backwards.status_code == 400
    assert backwards.json() == {
        "deploy_window_end": ["The deploy window must end after it starts."]
    }
    assert wrong_type.status_code == 400
    assert list(wrong_type.json()) == ["kind"]
    assert Release.objects.values().get(pk=release.pk) == before


def test_it_says_which_version_already_exists(cast, release, rita):
    response = rita.post("/api/releases/", {"project": "payments", "version": "1.0.0"})
    assert response.status_code == 400
    assert response.json() == {"version": ["Payments already has a release 1.0.0."]}


def test_it_answers_malformed_json_with_400(cast, release, rita):
    response = rita.generic(
        "POST",
        f"/api/releases/{release.pk}/notes/",
        '{"text": "unfinished',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


def test_it_answers_404_for_a_project_nobody_can_see_when_creating(cast, rita):
    response = rita.post("/api/releases/", {"project": "nowhere", "version": "1.0.0"})
    assert response.status_code == 404
    assert response.json() == {"detail": "No such project."}


def test_it_pages_releases_twenty_at_a_time(cast, rita):
    for n in range(23):
        create_release(cast.project, by=cast.rita, version=f"1.{n}.0")

    first = rita.get("/api/releases/").json()
    second = rita.get(first["next"]).json()

    assert first["count"] == 23
    assert len(first["results"]) == 20
    assert len(second["results"]) == 3
    assert second["next"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == 23
    assert rita.get("/api/releases/?page=9").status_code == 404
    assert len(rita.get("/api/releases/?page_size=5").json()["results"]) == 5


def test_it_filters_releases_by_project_status_and_kind(cast, rita):
    planning = make_release(cast, "1.0.0")
    frozen = make_release(cast, "1.1.0")
    lock_scope(frozen, by=cast.rita)
    hotfix = make_release(cast, "1.0.1", kind="hotfix")

    def versions(query: str) -> list[str]:
        response = rita.get(f"/api/releases/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(r["version"] for r in response.json()["results"])

    assert versions("status=frozen") == [frozen.version]
    assert versions("status=frozen&status=planning") == ["1.0.0", "1.0.1", "1.1.0"]
    assert versions("kind=hotfix") == [hotfix.version]
    assert versions("project=payments&kind=standard&status=planning") == [planning.version]
    assert versions("project=shipping") == []
    assert rita.get("/api/releases/?status=exploded").status_code == 400


def test_it_searches_releases_by_version_title_scope_key_and_date(cast, rita):
    keyed = make_release(cast, "2.0.0", title="Receipts", scope=2)  # PAY-1, PAY-2
    make_release(cast, "3.0.0", title="Checkout", scope=0)

    def versions(query: str) -> list[str]:
        response = rita.get(f"/api/releases/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(r["version"] for r in response.json()["results"])

    assert versions("q=pay-2") == [keyed.version]
    assert versions("q=checkout") == ["3.0.0"]
    assert versions("q=3.0") == ["3.0.0"]
    today = timezone.now().date()
    assert versions(f"after={today}&before={today}") == ["2.0.0", "3.0.0"]
    assert versions(f"after={today + dt.timedelta(days=1)}") == []
    response = rita.get("/api/releases/?before=soon")
    assert response.status_code == 400
    assert "before" in response.json()


def test_it_pages_the_timeline_by_cursor_without_gaps_or_repeats(cast, release, rita):
    for n in range(70):
        add_note(release, by=cast.rita, text=f"note {n}")
    total = ReleaseEvent.objects.filter(release=release).count()

    seen: list[int] = []
    url = f"/api/releases/{release.pk}/events/"
    while url:
        page = rita.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]
        # An event written while a client reads older pages does not shift what it sees.
        add_note(release, by=cast.rita, text="meanwhile")

    assert len(seen) == total
    assert seen == sorted(seen, reverse=True)
    assert rita.get(f"/api/releases/{release.pk}/events/?cursor=garbage").status_code == 404


def test_it_reads_readiness_with_each_blocker(cast, release, rita):
    body = rita.get(f"/api/releases/{release.pk}/readiness/").json()
    assert body["release"] == release.pk
    assert body["ready"] is False
    assert {b["kind"] for b in body["blockers"]} >= {"checklist", "check", "rollback_plan"}
    assert all(b["message"] and b["section"] for b in body["blockers"])


def test_it_represents_a_release_alike_in_the_list_and_on_its_own(cast, rita):
    watched = make_monitoring(make_release(cast, "1.0.0"), cast)
    recommend_rollback(watched, by="Greenlight", reason="Error rate ≥ 0.02")
    failed = make_deploying(make_release(cast, "1.1.0"), cast)
    roll_back(failed, by=cast.dana, reason="Card errors")
    carry_scope_forward(failed, by=cast.rita, version="1.1.1")

    listed = rita.get("/api/releases/").json()["results"]

    assert len(listed) == 3
    for row in listed:
        assert row == rita.get(f"/api/releases/{row['id']}/").json()
    by_version = {row["version"]: row for row in listed}
    assert by_version["1.0.0"]["rollback_recommended"] is True
    assert by_version["1.1.0"]["carried_into"] == by_version["1.1.1"]["id"]
    assert by_version["1.1.1"]["project"] == "payments"


@pytest.mark.parametrize("count", [3, 40])
def test_it_lists_a_page_in_the_same_few_queries_however_many_releases(
    cast, django_assert_max_num_queries, count
):
    for n in range(count):
        create_release(cast.project, by=cast.rita, version=f"2.{n}.0")
    client = bearer(project_token(cast))
    client.get("/api/releases/")  # the token's first use writes last_used_at once

    # The token, the page's total, the page's rows.
    with django_assert_max_num_queries(3):
        response = client.get("/api/releases/?status=planning")
    assert response.status_code == 200


@pytest.mark.parametrize("count", [3, 40])
def test_it_reads_the_whole_timeline_in_a_fixed_number_of_queries(
    cast, django_assert_max_num_queries, count
):
    for n in range(count):
        make_release(cast, f"3.{n}.0", deploy_window_start=timezone.now() + dt.timedelta(days=n))
    Incident.objects.bulk_create(
        Incident(
            project=cast.project,
            release=release,
            title=f"Errors after {release.version}",
            severity="sev2",
            started_at=timezone.now(),
        )
        for release in Release.objects.all()
    )
    save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Fridays",
        recurrence="weekly",
        start_weekday=4,
        start_time=dt.time(15),
        end_weekday=0,
        end_time=dt.time(8),
        timezone="Europe/Berlin",
    )
    client = APIClient()
    client.force_login(cast.rita)

    with django_assert_max_num_queries(5):
        response = client.get("/api/timeline/")

    body = response.json()
    assert len(body["releases"]) == count
    assert body["freeze_windows"], "the weekly window recurs inside the default range"
    milestones = {m["label"]: m for m in body["releases"][-1]["milestones"]}
    assert milestones["Deploy window"]["planned"] is not None
    [incident] = body["releases"][-1]["incidents"]
    assert incident["title"] == f"Errors after {body['releases'][-1]['version']}"
    assert (incident["severity"], incident["resolved_at"]) == ("sev2", None)


def test_it_bounds_the_timeline_range(cast, rita):
    assert rita.get("/api/timeline/?start=2031-01-01T00:00:00Z").status_code == 400
    assert (
        rita.get("/api/timeline/?start=2031-01-01T00:00:00Z&end=2033-01-01T00:00:00Z").status_code
        == 400
    )
    assert (
        rita.get("/api/timeline/?start=2031-01-01T00:00:00Z&end=2031-02-01T00:00:00Z").status_code
        == 200
    )


def test_it_maps_a_lost_race_to_409_and_a_database_refusal_to_400():
    race = exception_handler(IntegrityError("duplicate key value"), {})
    refusal = exception_handler(DataError("value too long"), {})

    assert race is not None
    assert refusal is not None
    assert race.status_code == 409
    assert set(race.data) == {"detail"}
    assert refusal.status_code == 400
    assert refusal.data == {"detail": "A value is malformed or out of range."}
