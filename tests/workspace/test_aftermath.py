"""The release page around the deploy: who stands by, rolling back in one click, the rollback
finished by hand, time to restore, the scope carried into a new release, the review's facts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.services.deploy import start_deploy
from monitoring.models import Check, CheckPhase
from monitoring.services.results import record_check_result
from releases.models import Notification, Release, ScopeItem, Status
from releases.services.lifecycle import mark_health
from releases.services.releases import create_release, update_release
from releases.services.roles import unassign_role
from releases.services.rollback import roll_back, update_rollback_plan
from tests.builders import complete_rollback_plan, make_approved, make_deploying, make_monitoring
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db

FORMAT = "%Y-%m-%dT%H:%M"


def action_url(release, name):
    return reverse("release_action", args=[release.pk, name])


def page_of(user, release) -> str:
    response = client_for(user).get(release.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def roster_of(page: str) -> str:
    return page.split('id="sec-deploy"')[1].split("</section>")[0]


@pytest.fixture
def rolled_back(cast, release):
    """Rolled back 40 min ago, unhealthy since 50 min ago, whole minutes for the form."""
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)
    mark_health(release, "unhealthy", by="poller", reason="Error rate 4 % over 5 min")
    roll_back(release, by=cast.dana, reason="Error rate 4 %")
    now = timezone.now().replace(second=0, microsecond=0)
    Release.objects.filter(pk=release.pk).update(
        unhealthy_since=now - dt.timedelta(minutes=50),
        rolled_back_at=now - dt.timedelta(minutes=40),
    )
    release.refresh_from_db()
    return release


def test_it_shows_who_stands_by_for_the_deploy_window(cast, release):
    start = dt.datetime(2031, 3, 4, 14, 0, tzinfo=dt.UTC)
    update_release(
        release,
        by=cast.rita,
        deploy_window_start=start,
        deploy_window_end=start + dt.timedelta(hours=2),
    )
    complete_rollback_plan(release, cast)  # Rita makes the call
    roster = roster_of(page_of(cast.vic, release))
    assert "Tue 4 Mar 2031, 14:00" in roster
    assert ">16:00</time> UTC" in roster
    assert "2 h for a standard release" in roster
    for label, person in [
        ("Developers", "Devin"),
        ("DevOps", "Dana"),
        ("Release manager", "Rita"),
        ("Rollback decider", "Rita"),
    ]:
        row = roster.split(f'<th scope="row">{label}')[1].split("</tr>")[0]
        assert person in row, label


def test_it_says_when_nobody_stands_by_in_a_role(cast, release):
    unassign_role(release, cast.devin, "dev", by=cast.rita)
    roster = roster_of(page_of(cast.rita, release))
    developers = roster.split('<th scope="row">Developers')[1].split("</tr>")[0]
    decider = roster.split('<th scope="row">Rollback decider')[1].split("</tr>")[0]
    assert "Nobody yet" in developers
    assert "Nobody yet" in decider
    assert "not planned yet" in roster


def test_it_offers_the_rollback_in_one_click_on_the_unhealthy_banner(cast, release):
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)
    mark_health(release, "unhealthy", by="poller", reason="Error rate 3 % over 5 min")
    assert 'id="roll-back-now"' in page_of(cast.dana, release)
    assert 'id="roll-back-now"' in page_of(cast.rita, release)
    for bystander in (cast.vic, cast.quinn, cast.paul):
        assert 'id="roll-back-now"' not in page_of(bystander, release)

    page = page_of(cast.dana, release)
    banner = page.split('class="banner-action"')[1].split("</form>")[0]
    reason = banner.split('name="reason" value="')[1].split('"')[0]
    dana = client_for(cast.dana)
    response = htmx_post(dana, action_url(release, "roll_back"), {"reason": reason})
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.status == Status.ROLLED_BACK
    assert release.rollback_reason == "Unhealthy: Error rate 3 % over 5 min"
    assert release.rollback_decided_by == cast.dana


def test_it_refuses_the_one_click_rollback_to_a_viewer(cast, release):
    make_monitoring(release, cast)
    mark_health(release, "unhealthy", by="poller", reason="Error rate 3 %")
    response = htmx_post(
        client_for(cast.vic), action_url(release, "roll_back"), {"reason": "Unhealthy"}
    )
    assert response.status_code == 403
    release.refresh_from_db()
    assert release.status == Status.MONITORING


def test_it_records_by_hand_when_the_rollback_finished_and_shows_time_to_restore(cast, rolled_back):
    page = page_of(cast.dana, rolled_back)
    assert "The rollback has not been reported finished yet." in page
    assert 'id="do-finish_rollback"' in page
    finished = rolled_back.rolled_back_at + dt.timedelta(minutes=20)
    response = htmx_post(
        client_for(cast.dana),
        action_url(rolled_back, "finish_rollback"),
        {"finished_at": finished.strftime(FORMAT)},
    )
    assert response.status_code == 200
    assert "service restored 30 min after the failure" in response.content.decode()
    rolled_back.refresh_from_db()
    assert rolled_back.rollback_finished_at == finished
    page = page_of(cast.vic, rolled_back)
    restore = page.split('data-testid="restore">')[1].split("</div>")[0]
    assert "service restored <strong>30 min</strong> after the failure" in restore
    assert "30 min" in page.split('data-testid="fact-restore">')[1].split("</dd>")[0]
    assert 'id="do-finish_rollback"' not in page_of(cast.dana, rolled_back)


def test_it_takes_now_when_no_finish_time_is_given(cast, rolled_back):
    before = timezone.now()
    response = client_for(cast.rita).post(action_url(rolled_back, "finish_rollback"), {})
    assert response.status_code == 302  # without JavaScript: back to the page
    rolled_back.refresh_from_db()
    assert rolled_back.rollback_finished_at >= before


@pytest.mark.parametrize(
    ("minutes", "error"),
    [
        (30, "The rollback cannot finish in the future."),
        (-45, "The rollback cannot finish before it started."),
    ],
)
def test_it_refuses_an_impossible_finish_time_and_changes_nothing(
    cast, rolled_back, minutes, error
):
    base = rolled_back.rolled_back_at if minutes < 0 else timezone.now()
    response = htmx_post(
        client_for(cast.dana),
        action_url(rolled_back, "finish_rollback"),
        {"finished_at": (base + dt.timedelta(minutes=minutes)).strftime(FORMAT)},
    )
    assert response.status_code == 422
    assert error in response.content.decode()
    rolled_back.refresh_from_db()
    assert rolled_back.rollback_finished_at is None


def test_it_lets_only_the_people_who_roll_back_finish_the_rollback(cast, rolled_back):
    for person in (cast.vic, cast.quinn, cast.devin):
        response = htmx_post(client_for(person), action_url(rolled_back, "finish_rollback"), {})
        assert response.status_code == 403
        assert 'id="do-finish_rollback"' not in page_of(person, rolled_back)
    assert client_for(cast.otto).post(action_url(rolled_back, "finish_rollback")).status_code == 404
    rolled_back.refresh_from_db()
    assert rolled_back.rollback_finished_at is None


def test_it_carries_the_scope_into_a_new_release_and_goes_there(cast, rolled_back):
    ScopeItem.objects.create(release=rolled_back, title="Deferred one", state="deferred")
    assert 'id="do-carry_forward"' in page_of(cast.rita, rolled_back)
    rita = client_for(cast.rita)
    response = rita.post(action_url(rolled_back, "carry_forward"), {"version": " 1.0.1 "})
    new = Release.objects.get(project=cast.project, version="1.0.1")
    assert response.status_code == 302
    assert response["Location"] == new.get_absolute_url()
    assert [i.title for i in new.scope_items.all()] == ["Feature 1"]
    assert new.status == Status.PLANNING
    rolled_back.refresh_from_db()
    assert rolled_back.carried_into == new
    landing = rita.get(new.get_absolute_url()).content.decode()
    assert "Release 1.0.1 created with the scope of 1.0.0." in landing
    page = page_of(cast.rita, rolled_back)
    assert f'href="{new.get_absolute_url()}">1.0.1</a>' in page
    assert 'id="do-carry_forward"' not in page


def test_it_sends_htmx_to_the_new_release_too(cast, rolled_back):
    response = htmx_post(
        client_for(cast.rita), action_url(rolled_back, "carry_forward"), {"version": "1.0.1"}
    )
    new = Release.objects.get(version="1.0.1")
    assert response.status_code == 200
    assert response["HX-Redirect"] == new.get_absolute_url()


def test_it_refuses_a_version_that_exists_and_creates_nothing(cast, rolled_back):
    create_release(cast.project, by=cast.rita, version="1.0.1")
    for version, error in [("1.0.1", "already"), ("", "This field is required.")]:
        response = htmx_post(
            client_for(cast.rita), action_url(rolled_back, "carry_forward"), {"version": version}
        )
        assert response.status_code == 422
        assert error in response.content.decode()
    assert Release.objects.filter(project=cast.project).count() == 2
    rolled_back.refresh_from_db()
    assert rolled_back.carried_into is None


def test_it_lets_only_a_release_manager_carry_the_scope_forward(cast, rolled_back):
    for person in (cast.dana, cast.paul, cast.vic):
        response = htmx_post(
            client_for(person), action_url(rolled_back, "carry_forward"), {"version": "1.0.1"}
        )
        assert response.status_code == 403
        assert 'id="do-carry_forward"' not in page_of(person, rolled_back)
    response = client_for(cast.otto).post(
        action_url(rolled_back, "carry_forward"), {"version": "1.0.1"}
    )
    assert response.status_code == 404
    assert not Release.objects.filter(version="1.0.1").exists()


def test_it_shows_the_rollback_and_the_health_window_beside_the_review(cast, release):
    make_deploying(release, cast)
    check = Check.objects.create(
        release=release, integration=cast.ci, name="Error rate", phase=CheckPhase.POST_RELEASE
    )
    record_check_result(check, status="passing", value="0.4 %", source="api")
    record_check_result(check, status="failing", value="4.1 %", source="api")
    roll_back(release, by=cast.rita, reason="Error rate 4 %")
    page = page_of(cast.vic, release)
    facts = page.split('class="review-facts"')[1].split("</section>")[0]
    rollback = facts.split('data-testid="fact-rollback">')[1].split("</dd>")[0]
    assert "Called by Rita" in rollback
    assert "Error rate 4 %" in rollback
    assert "Not reported finished" in rollback
    health = facts.split('data-testid="fact-health">')[1].split("</div></div>")[0]
    assert "Breached" in health
    assert "passing (0.4 %)" in health
    assert "failing (4.1 %)" in health
    assert health.index("passing (0.4 %)") < health.index("failing (4.1 %)")


def test_it_lists_on_the_roster_exactly_who_the_deploy_start_notifies(cast, release):
    make_approved(release, cast)
    update_rollback_plan(release, by=cast.rita, decider=cast.paul)
    unassign_role(release, cast.rita, "release_manager", by=cast.rita)
    roster = roster_of(page_of(cast.vic, release))
    on_roster = {
        name
        for name in ("Rita", "Paul", "Quinn", "Dana", "Devin", "Vic")
        if f"{name}</td>" in roster or f"{name}, " in roster
    }
    assert on_roster == {"Paul", "Dana", "Devin"}
    start_deploy(release, by=cast.dana, override_reason="test")
    notified = set(
        Notification.objects.filter(release=release, verb="deploy_started").values_list(
            "user__first_name", flat=True
        )
    )
    assert notified == on_roster
