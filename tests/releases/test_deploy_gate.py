"""The Go holds only while the release is ready: readiness is computed afresh when the deploy
starts, a No-go, a withdrawal, an expiry or a stale sign-off pulls an approval back, and the
deploy window is kept to the minute in the project's time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from approvals import tasks
from approvals.services.deploy import start_deploy
from approvals.services.policy import update_policy
from approvals.services.sign_offs import (
    record_sign_off,
    withdraw_lapsed_approvals,
    withdraw_sign_off,
)
from lib.errors import NotAllowed, Refused
from monitoring.services.results import record_check_result
from releases.models import Notification, Release, Status
from releases.services.projects import update_project
from releases.services.releases import update_release
from tests.builders import make_approved, make_deploying, make_release
from tests.html import client_for

pytestmark = pytest.mark.django_db


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def status_of(release: Release) -> str:
    return Release.objects.get(pk=release.pk).status


@pytest.fixture
def approved(cast, release):
    return make_approved(release, cast)


class TestApprovalWithdrawn:
    def test_it_pulls_the_approval_back_when_a_no_go_arrives_after_the_go(self, cast, approved):
        record_sign_off(
            approved, by=cast.quinn, role="qa", decision="no_go", comment="Checkout broken"
        )
        assert status_of(approved) == Status.FROZEN
        event = approved.events.get(verb="approval_withdrawn")
        assert "quinn said No-go as QA" in event.summary
        told = Notification.objects.get(user=cast.rita, verb="approval_withdrawn")
        assert "The Go on Payments 1.0.0 is withdrawn" in told.message
        with pytest.raises(Refused, match="Cannot start the deploy: the release is scope frozen"):
            start_deploy(approved, by=cast.dana)
        assert not approved.events.filter(verb="deploy_started").exists()

    def test_it_pulls_the_approval_back_when_a_sign_off_is_withdrawn(self, cast, approved):
        withdraw_sign_off(approved, by=cast.paul, role="product")
        assert status_of(approved) == Status.FROZEN
        event = approved.events.get(verb="approval_withdrawn")
        assert "the Product sign-off is no longer there" in event.summary

    def test_it_pulls_the_approval_back_when_a_sign_off_expires(self, cast, release, time_machine):
        time_machine.move_to(utc(2027, 3, 1, 9, 0), tick=False)
        update_policy(cast.project, by=cast.rita, sign_off_expiry_days=2)
        make_approved(release, cast)
        time_machine.move_to(utc(2027, 3, 2, 9, 0), tick=False)
        assert withdraw_lapsed_approvals() == 0
        assert status_of(release) == Status.APPROVED
        time_machine.move_to(utc(2027, 3, 3, 9, 1), tick=False)
        assert withdraw_lapsed_approvals() == 1
        assert status_of(release) == Status.FROZEN
        assert "sign-off is stale" in release.events.get(verb="approval_withdrawn").summary
        assert withdraw_lapsed_approvals() == 0

    def test_it_runs_the_expiry_check_on_the_beat(self, settings):
        entry = settings.CELERY_BEAT_SCHEDULE["withdraw-lapsed-approvals"]
        assert entry["task"] == tasks.withdraw_lapsed_approvals.name
        assert entry["schedule"] <= 60

    def test_it_pulls_the_approval_back_when_a_first_commit_stales_the_sign_offs(self, cast):
        release = make_approved(make_release(cast, sha=""), cast)
        update_release(release, by=cast.dana, commit_sha="C0FFEE1")
        assert status_of(release) == Status.FROZEN
        assert release.events.filter(verb="approval_withdrawn").exists()

    def test_it_records_a_no_go_against_a_release_already_deploying(self, cast, release):
        make_deploying(release, cast)
        sign_off = record_sign_off(
            release, by=cast.quinn, role="qa", decision="no_go", comment="Saw errors"
        )
        assert sign_off.decision == "no_go"
        assert status_of(release) == Status.DEPLOYING
        told = Notification.objects.get(user=cast.rita, verb="no_go")
        assert "consider a rollback" in told.message

    def test_it_offers_only_a_no_go_on_the_page_while_the_deploy_runs(self, cast, release):
        make_deploying(release, cast)
        quinn = client_for(cast.quinn)
        page = quinn.get(release.get_absolute_url()).content.decode()
        assert 'id="sign-qa-no_go"' in page
        assert 'id="sign-qa-go"' not in page
        response = quinn.post(
            reverse("sign_off", args=[release.pk]),
            {"role": "qa", "decision": "no_go", "comment": "Error rate climbing"},
        )
        assert response.status_code == 302
        assert release.sign_offs.current().get(user=cast.quinn).decision == "no_go"
        assert status_of(release) == Status.DEPLOYING

    def test_it_still_refuses_a_go_once_the_deploy_started(self, cast, release):
        make_deploying(release, cast)
        with pytest.raises(Refused, match="the release is deploying"):
            record_sign_off(release, by=cast.quinn, role="qa", decision="go")


class TestBothDoors:
    def test_it_answers_409_to_a_deploy_after_a_no_go_in_the_api(self, cast, approved):
        quinn, dana = APIClient(), APIClient()
        quinn.force_login(cast.quinn)
        dana.force_login(cast.dana)
        signed = quinn.post(
            f"/api/releases/{approved.pk}/sign-offs/",
            {"role": "qa", "decision": "no_go", "comment": "Refunds fail"},
        )
        assert signed.status_code == 201
        readiness = dana.get(f"/api/releases/{approved.pk}/readiness/").json()
        assert readiness["ready"] is False
        started = dana.post(f"/api/releases/{approved.pk}/start-deploy/", {})
        assert started.status_code == 409
        assert "the release is scope frozen" in started.json()["detail"]
        assert status_of(approved) == Status.FROZEN


class TestReadinessAtDeploy:
    def test_it_refuses_the_deploy_when_a_check_failed_after_the_go(self, cast, approved):
        check = approved.checks.get(name="CI green")
        record_check_result(check, status="failing", value="failure", source="api")
        with pytest.raises(Refused) as refused:
            start_deploy(approved, by=cast.dana)
        assert str(refused.value).startswith(
            "Cannot start the deploy now: Check “CI green” is not passing: failing"
        )
        assert status_of(approved) == Status.APPROVED

    def test_it_lets_a_release_manager_break_glass_over_a_failing_check(self, cast, approved):
        check = approved.checks.get(name="CI green")
        record_check_result(check, status="failing", value="failure", source="api")
        with pytest.raises(NotAllowed, match="Only a release manager can override checks"):
            start_deploy(approved, by=cast.dana, override_reason="Flaky CI")
        start_deploy(approved, by=cast.rita, override_reason="Flaky CI, rerun green")
        release = Release.objects.get(pk=approved.pk)
        assert release.status == Status.DEPLOYING
        assert release.override_used
        event = release.events.get(verb="deploy_started")
        assert event.data["override_reason"] == "Flaky CI, rerun green"
        assert event.data["override_categories"] == ["checks"]

    def test_it_refuses_the_deploy_over_an_expired_sign_off_even_before_the_beat_runs(
        self, cast, release, time_machine
    ):
        time_machine.move_to(utc(2027, 3, 1, 9, 0), tick=False)
        update_policy(cast.project, by=cast.rita, sign_off_expiry_days=1)
        make_approved(release, cast)
        time_machine.move_to(utc(2027, 3, 2, 9, 30), tick=False)
        with pytest.raises(Refused, match="QA sign-off is stale: quinn's is stale"):
            start_deploy(release, by=cast.dana)
        assert status_of(release) == Status.APPROVED


class TestDeployWindow:
    def test_it_refuses_a_deploy_at_23_00_against_a_14_00_to_15_00_window(self, cast, time_machine):
        release = make_release(
            cast,
            deploy_window_start=utc(2027, 2, 10, 14, 0),
            deploy_window_end=utc(2027, 2, 10, 15, 0),
        )
        make_approved(release, cast)
        time_machine.move_to(utc(2027, 2, 10, 23, 0), tick=False)
        with pytest.raises(Refused, match="the deploy window closed at Wed 10 Feb 2027 15:00 UTC"):
            start_deploy(release, by=cast.dana)
        assert status_of(release) == Status.APPROVED

    @pytest.fixture
    def planned(self, cast):
        update_project(cast.project, by=cast.rita, time_zone="Europe/Berlin")
        release = make_release(
            cast,
            deploy_window_start=utc(2027, 2, 10, 13, 0),  # 14:00 in Berlin
            deploy_window_end=utc(2027, 2, 10, 14, 0),  # 15:00 in Berlin
        )
        return make_approved(release, cast)

    def test_it_refuses_a_deploy_later_the_same_day(self, cast, planned, time_machine):
        time_machine.move_to(utc(2027, 2, 10, 22, 0), tick=False)  # 23:00 in Berlin
        with pytest.raises(Refused) as refused:
            start_deploy(planned, by=cast.dana)
        assert str(refused.value) == (
            "Cannot start the deploy now: the deploy window closed at Wed 10 Feb 2027 15:00 "
            "Europe/Berlin. A release manager can override with a reason."
        )
        assert status_of(planned) == Status.APPROVED

    def test_it_refuses_a_deploy_one_minute_before_the_window_opens(
        self, cast, planned, time_machine
    ):
        time_machine.move_to(utc(2027, 2, 10, 12, 59), tick=False)
        with pytest.raises(Refused, match="the deploy window opens at Wed 10 Feb 2027 14:00"):
            start_deploy(planned, by=cast.dana)

    def test_it_refuses_a_deploy_at_the_minute_the_window_closes(self, cast, planned, time_machine):
        time_machine.move_to(utc(2027, 2, 10, 14, 0), tick=False)
        with pytest.raises(Refused, match="the deploy window closed"):
            start_deploy(planned, by=cast.dana)

    def test_it_starts_a_deploy_in_the_last_minute_of_the_window(self, cast, planned, time_machine):
        time_machine.move_to(utc(2027, 2, 10, 13, 59), tick=False)
        start_deploy(planned, by=cast.dana)
        assert status_of(planned) == Status.DEPLOYING
        assert not Release.objects.get(pk=planned.pk).override_used

    def test_it_lets_a_release_manager_override_the_window_with_a_reason(
        self, cast, planned, time_machine
    ):
        time_machine.move_to(utc(2027, 2, 10, 22, 0), tick=False)
        with pytest.raises(NotAllowed, match="Only a release manager can override the deploy"):
            start_deploy(planned, by=cast.dana, override_reason="Late fix")
        start_deploy(planned, by=cast.rita, override_reason="Customer outage")
        release = Release.objects.get(pk=planned.pk)
        assert release.status == Status.DEPLOYING
        assert release.override_used
        event = release.events.get(verb="deploy_started")
        assert event.data["override_categories"] == ["deploy_window"]
        assert "Customer outage" in event.summary

    def test_it_follows_the_policy_when_only_administrators_may_override_the_window(
        self, cast, planned, time_machine
    ):
        update_policy(cast.project, by=cast.rita, override_deploy_window="administrators")
        time_machine.move_to(utc(2027, 2, 10, 22, 0), tick=False)
        with pytest.raises(NotAllowed, match="Only an administrator can override the deploy"):
            start_deploy(planned, by=cast.rita, override_reason="Customer outage")
        admin = get_user_model().objects.create_superuser("ada", "ada@example.com", "x")
        start_deploy(planned, by=admin, override_reason="Customer outage")
        assert status_of(planned) == Status.DEPLOYING

    def test_it_shows_the_window_in_the_projects_time_zone_on_the_release_page(
        self, cast, planned, time_machine
    ):

        time_machine.move_to(utc(2027, 2, 10, 22, 0), tick=False)
        page = client_for(cast.dana).get(planned.get_absolute_url()).content.decode()
        assert "the deploy window closed at Wed 10 Feb 2027 15:00 Europe/Berlin" in page
        assert "Only a release manager can override the deploy window" in page
