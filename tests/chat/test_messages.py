"""The messages: a direct message to each linked person asked, updated after every change so it
always shows the release as it is; reminders by direct message; the release channel's lines."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.exceptions import Retry

from approvals import tasks as approval_tasks
from approvals.services import decisions, sign_offs
from chat import blocks
from chat import tasks as chat_tasks
from chat.messages import ASKING, send_cards
from chat.models import SlackApp, SlackLink, SlackMessage
from chat.slack import SlackClient
from monitoring.services import results
from releases.services import lifecycle, notes, projects, releases, roles
from tests.builders import (
    complete_rollback_plan,
    make_ready,
    make_release,
    pass_checks,
    tick_readiness,
)
from tests.chat.helpers import buttons_of, message_for, slack_id, text_of
from tests.chat.slack_server import TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run a change and what it queues for after its commit (the Slack tasks among them)."""

    def run(change, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return change(*args, **kwargs)

    return run


@pytest.fixture
def polled(cast, release, linked, slack, after_commit):
    lifecycle.lock_scope(release, by=cast.rita)
    after_commit(decisions.open_poll, release, by=cast.rita)
    release.refresh_from_db()
    return release


def posted_to(slack, user) -> list[dict]:
    return [
        c.args
        for c in slack.called("chat.postMessage")
        if c.args["channel"] == "D" + slack_id(user)
    ]


def last_update(slack, message: SlackMessage) -> dict:
    updates = [
        c.args
        for c in slack.called("chat.update")
        if (c.args["channel"], c.args["ts"]) == (message.channel, message.ts)
    ]
    assert updates, "the message was never updated"
    return updates[-1]


def test_it_asks_each_linked_signer_in_a_direct_message_when_the_poll_opens(cast, polled, slack):
    for person, role in [
        (cast.paul, "Product"),
        (cast.quinn, "QA"),
        (cast.dana, "DevOps"),
        (cast.devin, "Developer"),
    ]:
        [message] = posted_to(slack, person)
        assert message["text"] == f"Payments 1.0.0: {ASKING['poll_opened']}"
        assert set(buttons_of(message["blocks"])) == {f"Go as {role}", f"No-go as {role}"}
        assert "Not ready:" in text_of(message["blocks"])
        assert {"users": slack_id(person)} in [c.args for c in slack.called("conversations.open")]
    # Bot token on every call.
    assert {c.authorization for c in slack.calls} == {f"Bearer {TOKEN}"}
    # Rita and vic sign nothing on a standard release.
    assert posted_to(slack, cast.rita) == []
    assert posted_to(slack, cast.vic) == []
    assert SlackMessage.objects.filter(release=polled).count() == 4


def test_it_sends_nothing_to_someone_who_has_not_linked_slack(
    cast, release, linked, slack, after_commit
):
    SlackLink.objects.filter(user=cast.devin).delete()
    lifecycle.lock_scope(release, by=cast.rita)

    after_commit(decisions.open_poll, release, by=cast.rita)

    assert posted_to(slack, cast.devin) == []
    assert len(posted_to(slack, cast.quinn)) == 1


def test_it_updates_everyones_message_after_a_sign_off(cast, polled, slack, after_commit):
    quinns = message_for(polled, cast.quinn)

    after_commit(sign_offs.record_sign_off, polled, by=cast.paul, role="product", decision="go")

    update = last_update(slack, quinns)
    assert "Product: ✅ Go – paul" in text_of(update["blocks"])
    assert "QA: ⏳ Waiting" in text_of(update["blocks"])
    assert "Product: ✅ Go – paul" in text_of(
        last_update(slack, message_for(polled, cast.paul))["blocks"]
    )
    quinns.refresh_from_db()
    assert quinns.digest == blocks.Card(update["text"], update["blocks"]).digest


def test_it_sends_no_update_when_nothing_a_message_shows_changed(cast, polled, slack, after_commit):
    before = len(slack.called("chat.update"))

    after_commit(notes.add_note, polled, by=cast.rita, text="Standup at ten")

    assert len(slack.called("chat.update")) == before


def test_it_redraws_the_buttons_and_tells_what_changed_after_a_new_commit(
    cast, polled, slack, after_commit
):
    after_commit(sign_offs.record_sign_off, polled, by=cast.paul, role="product", decision="go")
    pauls = message_for(polled, cast.paul)
    old_go = buttons_of(last_update(slack, pauls)["blocks"])["Go as Product"]["value"]

    after_commit(releases.update_release, polled, by=cast.rita, commit_sha="e" * 40)

    polled.refresh_from_db()
    # Paul is asked again in a new message; his first one is updated as well.
    asked_again = posted_to(slack, cast.paul)[-1]
    assert (
        asked_again["text"] == "Payments 1.0.0: What you approved has changed: please answer again."
    )
    for shown in (asked_again, last_update(slack, pauls)):
        assert "Your Go as Product of" in text_of(shown["blocks"])
        assert "is stale: the commit changed from aaaaaaaaaa to eeeeeeeeee" in text_of(
            shown["blocks"]
        )
        new_go = buttons_of(shown["blocks"])["Go as Product"]["value"]
        assert new_go != old_go
        assert blocks.content_version(polled) in new_go


def test_it_gives_the_deciders_record_buttons_once_every_sign_off_is_in(
    cast, release, linked, slack, after_commit
):
    lifecycle.lock_scope(release, by=cast.rita)
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)
    for role in ("dev", "qa", "devops"):
        sign_offs.record_sign_off(release, by=cast.by_role(role), role=role, decision="go")

    after_commit(sign_offs.record_sign_off, release, by=cast.paul, role="product", decision="go")

    [message] = posted_to(slack, cast.rita)
    assert (
        message["text"]
        == "Payments 1.0.0: Every required sign-off is in: the go/no-go can be recorded."
    )
    assert {"Record Go", "Record No-go"} <= set(buttons_of(message["blocks"]))
    assert "*Ready*: every criterion is met." in text_of(message["blocks"])


def test_it_shows_the_decision_and_takes_the_record_buttons_away_after_the_go(
    cast, release, linked, slack, after_commit
):
    make_ready(release, cast)
    after_commit(notes.add_note, release, by=cast.rita, text="x")  # nothing sent yet
    app = SlackApp.objects.get()
    with SlackClient(app.bot_token) as client:
        send_cards(app, release, [cast.rita], lead="Decide", slack=client)
    ritas = message_for(release, cast.rita)

    after_commit(decisions.record_decision, release, by=cast.rita, outcome="go")

    update = last_update(slack, ritas)
    assert "*Decision*: Go by rita" in text_of(update["blocks"])
    assert "Record Go" not in buttons_of(update["blocks"])


def test_it_reminds_and_escalates_by_direct_message(
    cast, linked, slack, time_machine, after_commit
):
    due = dt.datetime(2026, 4, 10, 12, 0, tzinfo=dt.UTC)
    time_machine.move_to(due - dt.timedelta(days=3), tick=False)
    release = make_release(cast, go_no_go_at=due)
    lifecycle.lock_scope(release, by=cast.rita)
    decisions.open_poll(release, by=cast.rita)
    sign_offs.record_sign_off(release, by=cast.paul, role="product", decision="go")

    time_machine.move_to(due - dt.timedelta(hours=2), tick=False)
    after_commit(approval_tasks.send_sign_off_reminders.delay)

    reminded = {
        c.args["channel"]
        for c in slack.called("chat.postMessage")
        if c.args["text"]
        == "Payments 1.0.0: Reminder: your go/no-go is needed before 2026-04-10 12:00 UTC."
    }
    assert reminded == {"D" + slack_id(p) for p in (cast.quinn, cast.dana, cast.devin)}

    time_machine.move_to(due + dt.timedelta(minutes=1), tick=False)
    after_commit(approval_tasks.send_sign_off_reminders.delay)

    [escalation] = [
        c.args
        for c in slack.called("chat.postMessage")
        if "sign-offs are still missing" in c.args["text"]
    ]
    assert escalation["channel"] == "D" + slack_id(cast.rita)


def test_it_asks_the_people_who_judge_when_a_check_needs_judgement(
    cast, polled, slack, after_commit
):
    check = polled.checks.get(name="CI green")

    after_commit(
        results.record_check_result,
        check,
        status="needs_judgement",
        value="skipped",
        source="api",
    )

    judged_by = {
        c.args["channel"]
        for c in slack.called("chat.postMessage")
        if "Judge “CI green”" in buttons_of(c.args.get("blocks") or [])
    }
    assert judged_by == {"D" + slack_id(p) for p in (cast.rita, cast.quinn, cast.dana)}


def test_it_tells_the_release_channel_the_lifecycle(
    cast, release, linked, slack, slack_app, after_commit
):
    slack_app.release_channel = "C0RELEASES"
    slack_app.save()

    after_commit(lifecycle.lock_scope, release, by=cast.rita)
    after_commit(sign_offs.record_sign_off, release, by=cast.paul, role="product", decision="go")
    after_commit(notes.add_note, release, by=cast.rita, text="Standup at ten")

    lines = [
        c.args["text"]
        for c in slack.called("chat.postMessage")
        if c.args["channel"] == "C0RELEASES"
    ]
    assert lines == [
        "Payments 1.0.0: Scope locked: changes now go through change requests",
        "Payments 1.0.0: Product: Go",
    ]
    assert SlackMessage.objects.filter(kind=SlackMessage.Kind.CHANNEL).count() == 2


def test_it_keeps_the_change_when_slack_is_down(client, cast, release, linked, slack, after_commit):
    lifecycle.lock_scope(release, by=cast.rita)
    slack.fail["chat.postMessage"] = (503, {"ok": False, "error": "service_unavailable"})

    after_commit(decisions.open_poll, release, by=cast.rita)

    release.refresh_from_db()
    assert release.poll_opened_at is not None
    assert not SlackMessage.objects.exists()
    # The task is tried again later (here: at once, by hand) and sends each message once.
    event = release.events.get(verb="poll_opened")
    with pytest.raises(Retry):
        chat_tasks.follow_event.apply(args=[event.pk])
    del slack.fail["chat.postMessage"]
    chat_tasks.follow_event.apply(args=[event.pk])
    chat_tasks.follow_event.apply(args=[event.pk])
    assert SlackMessage.objects.filter(event_id=event.pk).count() == 4


def test_it_shows_nothing_more_to_someone_who_left_the_project(cast, polled, slack, after_commit):
    pauls = message_for(polled, cast.paul)
    projects.set_project_roles(cast.project, cast.paul, [], by=cast.rita)
    roles.unassign_role(polled, cast.paul, "product", by=cast.rita)

    after_commit(sign_offs.record_sign_off, polled, by=cast.quinn, role="qa", decision="go")

    update = last_update(slack, pauls)
    assert update["text"] == "Payments 1.0.0 is no longer shared with you."
    assert buttons_of(update["blocks"]) == {}
    assert "Readiness" not in text_of(update["blocks"])
