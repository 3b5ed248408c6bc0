"""Giving, replacing and withdrawing a sign-off; who may sign; expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from approvals.models import SignOff
from approvals.readiness import readiness_for
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.policy import update_policy
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from lib.errors import NotAllowed, Refused
from releases.models import Notification
from releases.services.lifecycle import lock_scope
from releases.services.roles import unassign_role
from tests.builders import make_deploying, make_ready, sign_required

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    return release


def test_it_records_a_go_with_an_optional_comment(cast, frozen):
    sign_off = record_sign_off(
        frozen, by=cast.quinn, role="qa", decision="go", comment=" Regression suite green "
    )
    assert (sign_off.user, sign_off.role, sign_off.decision) == (cast.quinn, "qa", "go")
    assert sign_off.comment == "Regression suite green"
    assert sign_off.is_current


def test_it_requires_a_reason_for_a_no_go(cast, frozen):
    with pytest.raises(ValidationError) as error:
        record_sign_off(frozen, by=cast.quinn, role="qa", decision="no_go", comment=" ")
    assert error.value.message_dict == {"comment": ["A No-go needs a reason."]}
    assert not SignOff.objects.exists()


@pytest.mark.parametrize(
    ("role", "decision", "field"), [("qa", "maybe", "decision"), ("viewer", "go", "role")]
)
def test_it_refuses_bad_input_with_a_field_error(cast, frozen, role, decision, field):
    with pytest.raises(ValidationError) as error:
        record_sign_off(frozen, by=cast.quinn, role=role, decision=decision)
    assert field in error.value.message_dict
    assert not SignOff.objects.exists()


@pytest.mark.parametrize("who", ["devin", "vic", "otto"])
def test_it_only_lets_people_assigned_the_role_sign_for_it(cast, frozen, who):
    with pytest.raises(NotAllowed, match="You are not assigned as QA on this release"):
        record_sign_off(frozen, by=getattr(cast, who), role="qa", decision="go")
    assert not SignOff.objects.exists()


def test_it_follows_the_release_assignments_not_the_project_roles(cast, frozen):
    unassign_role(frozen, cast.quinn, "qa", by=cast.rita)
    with pytest.raises(NotAllowed):
        record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
    assign_role(frozen, cast.devin, "qa", by=cast.rita)
    assign_role(frozen, cast.quinn, "qa", by=cast.rita)
    record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
    assert frozen.sign_offs.current().get().user == cast.quinn


def test_it_refuses_sign_offs_before_the_scope_is_locked(cast, release):
    with pytest.raises(Refused, match="once the scope is locked"):
        record_sign_off(release, by=cast.quinn, role="qa", decision="go")


def test_it_replaces_my_sign_off_and_keeps_the_old_one_as_history(cast, frozen):
    first = record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
    second = record_sign_off(
        frozen, by=cast.quinn, role="qa", decision="no_go", comment="Checkout broke on Safari"
    )
    first.refresh_from_db()
    assert not first.is_current
    assert first.superseded_at is not None
    assert list(frozen.sign_offs.current()) == [second]
    assert frozen.sign_offs.count() == 2
    event = frozen.events.filter(verb="sign_off_no_go").get()
    assert "replaces the earlier sign-off" in event.summary
    assert event.before == {"decision": "go"}


def test_it_keeps_exactly_one_current_sign_off_per_person_and_role_in_the_database(cast, frozen):
    record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignOff.objects.create(release=frozen, user=cast.quinn, role="qa", decision="go")


def test_it_withdraws_my_sign_off_before_the_decision(cast, frozen):
    record_sign_off(frozen, by=cast.quinn, role="qa", decision="go")
    withdrawn = withdraw_sign_off(frozen, by=cast.quinn, role="qa")
    assert withdrawn.withdrawn_at is not None
    assert not frozen.sign_offs.current().exists()
    assert "QA has not signed off" in readiness_for(frozen).summary()
    with pytest.raises(Refused, match="You have no sign-off to withdraw"):
        withdraw_sign_off(frozen, by=cast.quinn, role="qa")


def test_it_refuses_to_withdraw_once_the_deploy_started(cast, release):
    make_deploying(release, cast)
    with pytest.raises(Refused, match="until the deploy starts; the release is deploying"):
        withdraw_sign_off(release, by=cast.quinn, role="qa")
    assert release.sign_offs.current().filter(user=cast.quinn).exists()


def test_it_tells_the_release_manager_about_a_no_go(cast, frozen):
    record_sign_off(frozen, by=cast.quinn, role="qa", decision="no_go", comment="Refunds fail")
    note = Notification.objects.get(user=cast.rita, verb="no_go")
    assert note.message == f"quinn said No-go as QA on {frozen}: Refunds fail"
    assert not Notification.objects.filter(user=cast.quinn, verb="no_go").exists()


def test_it_says_once_when_the_last_required_sign_off_arrives(cast, release):
    make_ready(release, cast, sign_through_services=True)  # signs every required role
    assert release.events.filter(verb="sign_offs_complete").count() == 1
    assert Notification.objects.filter(user=cast.rita, verb="sign_offs_complete").count() == 1
    # Signing again changes nothing about completeness.
    sign_required(release, cast, roles=("qa",))
    assert release.events.filter(verb="sign_offs_complete").count() == 1
    # A No-go breaks it; the Go that mends it completes the set again.
    record_sign_off(release, by=cast.quinn, role="qa", decision="no_go", comment="x")
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    assert release.events.filter(verb="sign_offs_complete").count() == 2


class TestExpiry:
    def test_it_stops_counting_a_sign_off_older_than_the_policy_allows(
        self, cast, release, time_machine
    ):
        update_policy(cast.project, by=cast.rita, sign_off_expiry_days=3)
        time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
        make_ready(release, cast)
        time_machine.move_to(dt.datetime(2026, 3, 5, 8, 59, tzinfo=dt.UTC), tick=False)
        assert readiness_for(release).ready

        time_machine.move_to(dt.datetime(2026, 3, 5, 9, 1, tzinfo=dt.UTC), tick=False)
        readiness = readiness_for(release)
        assert not readiness.ready
        assert "QA sign-off is stale: quinn's is stale (expired)" in readiness.summary()
        with pytest.raises(Refused, match="expired"):
            record_decision(release, by=cast.rita, outcome="go")

        sign_required(release, cast)
        assert readiness_for(release).ready

    def test_it_never_expires_sign_offs_without_a_policy_limit(self, cast, release, time_machine):
        time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
        make_ready(release, cast)
        time_machine.move_to(dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
        assert readiness_for(release).ready
