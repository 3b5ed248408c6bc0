"""Reminders before the planned go/no-go and escalation when it comes with roles missing:
each sent once, however often beat ticks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from approvals import tasks
from approvals.models import Reminder
from approvals.services.decisions import open_poll, record_decision
from approvals.services.policy import update_policy
from approvals.services.reminders import remind_release, send_due_reminders
from approvals.services.sign_offs import record_sign_off
from releases.models import Notification
from releases.services.lifecycle import lock_scope
from releases.services.releases import update_release
from tests.builders import let_release_managers_override, make_ready, make_release

pytestmark = pytest.mark.django_db

GO_NO_GO = dt.datetime(2026, 4, 10, 12, 0, tzinfo=dt.UTC)


def at(time_machine, delta: dt.timedelta) -> None:
    time_machine.move_to(GO_NO_GO + delta, tick=False)


def tick() -> int:
    """What beat does every five minutes."""
    return tasks.send_sign_off_reminders.delay().get()


def reminded() -> list[str]:
    return sorted(
        Notification.objects.filter(verb="sign_off_reminder").values_list(
            "user__username", flat=True
        )
    )


def escalated() -> list[str]:
    return sorted(
        Notification.objects.filter(verb="sign_offs_escalated").values_list(
            "user__username", flat=True
        )
    )


@pytest.fixture
def planned(cast, time_machine):
    at(time_machine, -dt.timedelta(days=3))
    release = make_release(cast, go_no_go_at=GO_NO_GO)
    lock_scope(release, by=cast.rita)
    open_poll(release, by=cast.rita)
    record_sign_off(release, by=cast.paul, role="product", decision="go")
    return release


def test_it_runs_the_reminders_from_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["sign-off-reminders"]
    assert entry["task"] == tasks.send_sign_off_reminders.name
    assert entry["schedule"] <= 15 * 60


def test_it_sends_nothing_before_the_reminder_time(planned, time_machine):
    at(time_machine, -dt.timedelta(hours=24, minutes=1))
    assert tick() == 0
    assert reminded() == []


def test_it_reminds_each_assignee_whose_sign_off_is_pending_once(cast, planned, time_machine):
    at(time_machine, -dt.timedelta(hours=23, minutes=55))
    assert tick() == 3
    # paul signed; rita and vic have no required role on a standard release.
    assert reminded() == ["dana", "devin", "quinn"]
    note = Notification.objects.get(verb="sign_off_reminder", user=cast.quinn)
    assert note.message == (
        "Reminder: your go/no-go as QA on Payments 1.0.0 is needed before 2026-04-10 12:00 UTC."
    )
    event = planned.events.get(verb="sign_off_reminder")
    assert event.actor_name == "scheduler"
    assert "still missing from Developer, QA, DevOps" in event.summary

    at(time_machine, -dt.timedelta(hours=23, minutes=50))
    assert tick() == 0
    at(time_machine, -dt.timedelta(hours=1))
    assert tick() == 0
    assert reminded() == ["dana", "devin", "quinn"]
    assert planned.events.filter(verb="sign_off_reminder").count() == 1
    assert Reminder.objects.filter(kind="reminder").count() == 3


def test_it_follows_the_policy_reminder_time(cast, planned, time_machine):
    update_policy(cast.project, by=cast.rita, reminder_hours_before=2)
    at(time_machine, -dt.timedelta(hours=3))
    assert tick() == 0
    at(time_machine, -dt.timedelta(hours=1, minutes=59))
    assert tick() == 3


def test_it_reminds_someone_whose_sign_off_went_stale(cast, planned, time_machine):
    at(time_machine, -dt.timedelta(hours=20))
    tick()
    update_release(planned, by=cast.dana, commit_sha="b" * 40)
    at(time_machine, -dt.timedelta(hours=19))
    assert tick() == 1
    assert reminded() == ["dana", "devin", "paul", "quinn"]


def test_it_does_not_remind_whoever_answered_even_with_a_no_go(cast, planned, time_machine):
    record_sign_off(planned, by=cast.quinn, role="qa", decision="no_go", comment="Bug")
    at(time_machine, -dt.timedelta(hours=2))
    tick()
    assert reminded() == ["dana", "devin"]


def test_it_escalates_to_the_release_manager_once_at_the_go_no_go_time(cast, planned, time_machine):
    record_sign_off(planned, by=cast.quinn, role="qa", decision="go")
    at(time_machine, -dt.timedelta(minutes=1))
    tick()
    assert escalated() == []

    at(time_machine, dt.timedelta(minutes=2))
    assert tick() == 1
    assert escalated() == ["rita"]
    note = Notification.objects.get(verb="sign_offs_escalated")
    assert note.message == (
        "The go/no-go time of Payments 1.0.0 (2026-04-10 12:00 UTC) has come and sign-offs are "
        "still missing from Developer, DevOps."
    )
    assert planned.events.filter(verb="sign_offs_escalated").count() == 1

    at(time_machine, dt.timedelta(minutes=7))
    assert tick() == 0
    at(time_machine, dt.timedelta(days=1))
    assert tick() == 0
    assert escalated() == ["rita"]


def test_it_neither_reminds_nor_escalates_when_every_role_has_signed(cast, time_machine):
    at(time_machine, -dt.timedelta(days=3))
    release = make_release(cast, go_no_go_at=GO_NO_GO)
    make_ready(release, cast)
    at(time_machine, dt.timedelta(hours=1))
    assert tick() == 0
    assert (reminded(), escalated()) == ([], [])


def test_it_stops_once_the_decision_is_taken(cast, planned, time_machine):
    let_release_managers_override(cast, "sign_offs")
    record_decision(planned, by=cast.rita, outcome="go", override_reason="Urgent")
    at(time_machine, dt.timedelta(hours=1))
    assert tick() == 0
    assert (reminded(), escalated()) == ([], [])


def test_it_reminds_again_for_a_new_go_no_go_time(cast, planned, time_machine):
    at(time_machine, -dt.timedelta(hours=2))
    tick()
    later = GO_NO_GO + dt.timedelta(days=2)
    update_release(planned, by=cast.rita, go_no_go_at=later)
    at(time_machine, dt.timedelta(hours=1))
    assert tick() == 0  # the old time passed, but it is not the go/no-go any more
    time_machine.move_to(later - dt.timedelta(hours=2), tick=False)
    assert tick() == 3
    assert reminded() == ["dana", "dana", "devin", "devin", "quinn", "quinn"]


def test_it_is_safe_to_run_twice_at_the_same_moment(cast, planned, time_machine):
    at(time_machine, dt.timedelta(minutes=5))
    now = GO_NO_GO + dt.timedelta(minutes=5)
    assert remind_release(planned, now=now) == 1
    assert remind_release(planned, now=now) == 0
    assert send_due_reminders(now=now) == 0
    assert escalated() == ["rita"]
