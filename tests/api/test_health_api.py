"""The health window over the API: rollback triggers, the recommendation on the release, and
marking released failing closed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.models import Check, RollbackTrigger
from monitoring.services.checks import save_release_check
from monitoring.services.results import record_check_result
from releases.models import Release
from releases.services.rollback import update_rollback_plan
from tests.api.conftest import bearer, project_token
from tests.builders import make_monitoring, make_release

pytestmark = pytest.mark.django_db

HOOK = "https://deploy.example.com/hooks/rollback"


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def watched(cast, release) -> Release:
    """In its monitoring window; Paul (Product) makes the rollback call."""
    make_monitoring(release, cast)
    update_rollback_plan(release, by=cast.rita, decider=cast.paul)
    return release


def error_rate(release: Release, cast, *, required: bool = True) -> Check:
    """A post-release check that passes below 2 % errors."""
    return save_release_check(
        release,
        by=cast.dana,
        integration=cast.ci,
        name="Error rate",
        phase="post_release",
        required=required,
        comparator="lt",
        threshold=0.02,
    )


def test_it_binds_changes_and_removes_a_trigger(cast, watched):
    check = error_rate(watched, cast)
    dana = signed_in(cast.dana)
    url = f"/api/releases/{watched.pk}/rollback-triggers/"

    added = dana.post(url, {"check": check.pk, "mode": "recommend"})
    assert added.status_code == 201, added.json()
    trigger = added.json()
    assert trigger["check"] == check.pk
    assert trigger["check_name"] == "Error rate"
    assert trigger["condition"] == "Error rate ≥ 0.02"
    assert trigger["description"] == "Error rate ≥ 0.02"
    assert trigger["created_by"] == "dana"
    assert [t["id"] for t in dana.get(url).json()["results"]] == [trigger["id"]]

    # Automatic calls the rollback plan's webhook: not without its address.
    automatic = dana.patch(f"{url}{trigger['id']}/", {"mode": "automatic"})
    assert automatic.status_code == 400
    assert "set its URL first" in automatic.json()["mode"][0]
    dana.patch(f"/api/releases/{watched.pk}/rollback-plan/", {"rollback_webhook_url": HOOK})
    automatic = dana.patch(f"{url}{trigger['id']}/", {"mode": "automatic"})
    assert automatic.status_code == 200, automatic.json()
    assert RollbackTrigger.objects.get().mode == "automatic"

    removed = dana.delete(f"{url}{trigger['id']}/")
    assert removed.status_code == 204
    assert not RollbackTrigger.objects.exists()
    events = watched.events.filter(verb__startswith="rollback_trigger").order_by("pk")
    assert list(events.values_list("verb", flat=True)) == [
        "rollback_trigger_added",
        "rollback_trigger_changed",
        "rollback_trigger_removed",
    ]


def test_it_accepts_only_a_post_release_check_of_this_release(cast, watched):
    other = make_release(cast, "2.0.0")
    dana = signed_in(cast.dana)
    url = f"/api/releases/{watched.pk}/rollback-triggers/"
    pre_release = watched.checks.get(name="CI green")
    check = error_rate(watched, cast)
    dana.post(url, {"check": check.pk, "mode": "recommend"})

    gate = dana.post(url, {"check": pre_release.pk, "mode": "recommend"})
    elsewhere = dana.post(url, {"check": error_rate(other, cast).pk, "mode": "recommend"})
    twice = dana.post(url, {"check": check.pk, "mode": "recommend"})
    panic = dana.post(url, {"check": check.pk, "mode": "panic"})

    assert gate.status_code == 400
    assert gate.json() == {"check": ["Choose a post-release check of this release."]}
    assert elsewhere.status_code == 400
    assert list(elsewhere.json()) == ["check"]
    assert twice.status_code == 400
    assert "already has a trigger" in twice.json()["check"][0]
    assert panic.status_code == 400
    assert list(panic.json()) == ["mode"]
    assert RollbackTrigger.objects.count() == 1


def test_it_shows_the_recommendation_a_breach_raised_and_the_decider_rolls_back(cast, watched):
    check = error_rate(watched, cast)
    signed_in(cast.dana).post(
        f"/api/releases/{watched.pk}/rollback-triggers/", {"check": check.pk, "mode": "recommend"}
    )
    monitor = bearer(project_token(cast, name="monitor"))
    calm = monitor.get(f"/api/releases/{watched.pk}/").json()
    assert (calm["rollback_recommended"], calm["rollback_recommended_at"]) == (False, None)

    monitor.post(
        f"/api/releases/{watched.pk}/checks/{check.pk}/results/",
        {"status": "failing", "value": "0.07"},
    )

    body = monitor.get(f"/api/releases/{watched.pk}/").json()
    assert body["health"] == "unhealthy"
    assert body["rollback_recommended"] is True
    assert body["rollback_recommended_at"] is not None
    assert body["rollback_recommendation"].startswith("Error rate ≥ 0.02: “Error rate” failing")
    rolled = signed_in(cast.paul).post(
        f"/api/releases/{watched.pk}/roll-back/", {"reason": "Errors at 7 %"}
    )
    assert rolled.status_code == 200, rolled.json()
    assert rolled.json()["status"] == "rolled_back"
    # Kept for the review, no longer a call to make.
    assert rolled.json()["rollback_recommended"] is False
    assert rolled.json()["rollback_recommendation"] != ""


def test_it_judges_a_release_healthy_again_only_once_its_checks_pass(cast, watched):
    check = error_rate(watched, cast)
    signed_in(cast.dana).post(
        f"/api/releases/{watched.pk}/rollback-triggers/", {"check": check.pk, "mode": "recommend"}
    )
    record_check_result(check, status="failing", value="0.07", source="api")
    paul = signed_in(cast.paul)  # the rollback plan's decider
    url = f"/api/releases/{watched.pk}/restore-health/"

    still_failing = paul.post(url, {"reason": "Looks fine to me"})
    by_vic = signed_in(cast.vic).post(url, {"reason": "Looks fine to me"})
    record_check_result(check, status="passing", value="0.001", source="api")
    restored = paul.post(url, {"reason": "Error rate back at 0.1 %"})

    assert still_failing.status_code == 409
    assert "“Error rate” is still failing" in still_failing.json()["detail"]
    assert by_vic.status_code == 403
    assert restored.status_code == 200, restored.json()
    assert restored.json()["health"] == "healthy"
    assert restored.json()["rollback_recommended"] is False


def test_it_marks_released_only_when_every_required_health_check_passes(cast, watched):
    check = error_rate(watched, cast)
    Release.objects.filter(pk=watched.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    rita = signed_in(cast.rita)
    url = f"/api/releases/{watched.pk}/complete/"

    held = rita.post(url)

    assert held.status_code == 409
    assert held.json()["blockers"] == ["“Error rate” has no result yet"]
    assert (
        held.json()["detail"] == "Cannot mark the release released: “Error rate” has no result yet."
    )
    assert Release.objects.get(pk=watched.pk).status == "monitoring"
    record_check_result(check, status="passing", value="0.001", source="api")
    released = rita.post(url)
    assert released.status_code == 200, released.json()
    assert released.json()["status"] == "released"


def test_it_leaves_marking_released_to_the_release_manager(cast, watched):
    Release.objects.filter(pk=watched.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )

    by_dana = signed_in(cast.dana).post(f"/api/releases/{watched.pk}/complete/")
    by_ci = bearer(project_token(cast)).post(f"/api/releases/{watched.pk}/complete/")

    assert by_dana.status_code == 403
    assert by_ci.status_code == 403
    assert Release.objects.get(pk=watched.pk).status == "monitoring"


def test_it_lets_members_and_the_project_token_read_triggers_but_not_change_them(cast, watched):
    check = error_rate(watched, cast, required=False)
    signed_in(cast.rita).post(
        f"/api/releases/{watched.pk}/rollback-triggers/", {"check": check.pk, "mode": "recommend"}
    )
    url = f"/api/releases/{watched.pk}/rollback-triggers/"

    for client in (signed_in(cast.vic), bearer(project_token(cast))):
        assert client.get(url).json()["count"] == 1
        trigger_id = client.get(url).json()["results"][0]["id"]
        changed = client.patch(f"{url}{trigger_id}/", {"description": "Mine now"})
        assert changed.status_code == 403
    assert RollbackTrigger.objects.get().description == "Error rate ≥ 0.02"
