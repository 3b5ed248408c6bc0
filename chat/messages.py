"""Sending and updating Greenlight's Slack messages as a release moves.

Everything here runs in Celery tasks after the change committed (``chat.receivers`` follows
``releases.signals.event_logged``): a Slack that is slow or down never holds up an approval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from approvals.models import SignOff
from approvals.readiness import policy_for
from chat import blocks
from chat.models import SlackApp, SlackLink, SlackMessage
from chat.slack import SlackClient, SlackError, SlackUnavailable
from monitoring.models import CheckStatus
from releases.access import access_for
from releases.models import Release, ReleaseEvent
from releases.services import common

logger = logging.getLogger(__name__)

# Events that ask people something: each gets a direct message of its own (a ping), besides
# the update of every message already sent. The line says why it came.
ASKING = {
    "poll_opened": "Your go/no-go is needed.",
    "sign_off_reminder": "Reminder: your go/no-go is needed before {when}.",
    "sign_offs_escalated": "The go/no-go time ({when}) has come and sign-offs are still missing.",
    "sign_offs_stale": "What you approved has changed: please answer again.",
    "sign_offs_complete": "Every required sign-off is in: the go/no-go can be recorded.",
    "check_status": "A check needs a person's judgement.",
}
# The lifecycle a release channel follows, one line each.
LIFECYCLE = {
    "release_created",
    "scope_locked",
    "poll_opened",
    "sign_off_go",
    "sign_off_no_go",
    "sign_off_withdrawn",
    "sign_offs_complete",
    "sign_offs_stale",
    "sign_offs_escalated",
    "decision_go",
    "decision_no_go",
    "decision_override",
    "approval_withdrawn",
    "approved",
    "returned_to_frozen",
    "deploy_started",
    "deploy_finished",
    "deploy_cancelled",
    "unhealthy",
    "rollback_recommended",
    "rolled_back",
    "released",
    "cancelled",
    "change_accepted",
}


def asked_by(event: ReleaseEvent) -> list[Any]:
    """The people an event asks for something, as the event itself names them."""
    release = event.release
    data = event.data or {}
    User = get_user_model()
    if event.verb == "poll_opened":
        return list(User.objects.filter(pk__in=data.get("asked", [])))
    if event.verb in ("sign_off_reminder", "sign_offs_escalated"):
        return list(User.objects.filter(pk__in=data.get("users", [])))
    if event.verb == "sign_offs_stale":
        return list(
            User.objects.filter(
                pk__in=SignOff.objects.filter(pk__in=data.get("sign_offs", [])).values("user")
            )
        )
    if event.verb == "sign_offs_complete":
        decider = policy_for(release.project).decider_role
        people = common.people_on(release) + common.release_managers(release)
        unique = {p.pk: p for p in people}.values()
        return [p for p in unique if access_for(p, release).can_record_decision(decider)]
    if event.verb == "check_status" and (event.after or {}).get("status") == (
        CheckStatus.NEEDS_JUDGEMENT
    ):
        return [p for p in common.people_on(release) if access_for(p, release).can_judge_checks]
    return []


def lead_for(event: ReleaseEvent) -> str:
    """Why the direct message came: its first line and Slack's notification text."""
    due = event.release.go_no_go_at
    when = f"{due:%Y-%m-%d %H:%M} UTC" if due else "the go/no-go time"
    return ASKING[event.verb].format(when=when)


def follow(event: ReleaseEvent, *, client: SlackClient | None = None) -> None:
    """Bring Slack up to date after one event: new direct messages for whoever it asks, the
    release channel's line, then every message already sent shows the release as it is now."""
    release = Release.objects.select_related("project").get(pk=event.release_id)
    event = ReleaseEvent.objects.select_related("actor", "release__project").get(pk=event.pk)
    app = SlackApp.objects.filter(project_id=release.project_id).first()
    if app is None or not app.secrets_encrypted:
        return
    with client or SlackClient(app.bot_token) as slack:
        if event.verb in ASKING:
            send_cards(
                app, release, asked_by(event), lead=lead_for(event), event=event, slack=slack
            )
        if app.release_channel and event.verb in LIFECYCLE:
            actor = event.actor.get_username() if event.actor_id else event.actor_label
            card = blocks.channel_line(release, event.summary, actor)
            ts = slack.post_message(app.release_channel, text=card.text, blocks=card.blocks)
            now = timezone.now()
            SlackMessage.objects.create(
                app=app,
                release=release,
                kind=SlackMessage.Kind.CHANNEL,
                channel=app.release_channel,
                ts=ts,
                digest=card.digest,
                created_at=now,
                updated_at=now,
            )
        refresh(app, release, slack=slack)


def send_cards(
    app: SlackApp,
    release: Release,
    people: Iterable[Any],
    *,
    lead: str,
    slack: SlackClient,
    event: ReleaseEvent | None = None,
) -> int:
    """A direct message to each linked person; the unlinked hear by email as always."""
    links = {
        link.user_id: link.slack_user_id
        for link in SlackLink.objects.filter(team_id=app.team_id, user__in=list(people))
    }
    already = set(
        SlackMessage.objects.filter(release=release, event_id=event.pk).values_list(
            "user_id", flat=True
        )
        if event is not None
        else []
    )
    sent = 0
    for person in people:
        slack_user_id = links.get(person.pk)
        if slack_user_id is None or not person.is_active or person.pk in already:
            continue
        card = blocks.personal_card(release, person, lead)
        channel = slack.open_dm(slack_user_id)
        ts = slack.post_message(channel, text=card.text, blocks=card.blocks)
        now = timezone.now()
        SlackMessage.objects.create(
            app=app,
            release=release,
            user=person,
            kind=SlackMessage.Kind.PERSONAL,
            lead=lead,
            event_id=getattr(event, "pk", None),
            channel=channel,
            ts=ts,
            digest=card.digest,
            created_at=now,
            updated_at=now,
        )
        sent += 1
    return sent


def refresh(app: SlackApp, release: Release, *, slack: SlackClient) -> int:
    """Update every personal message of the release whose content changed; returns how many."""
    updated = 0
    failure: SlackUnavailable | None = None
    for message in SlackMessage.objects.filter(
        app=app, release=release, kind=SlackMessage.Kind.PERSONAL
    ).select_related("user"):
        card = blocks.personal_card(release, message.user, message.lead)
        if card.digest == message.digest:
            continue
        try:
            slack.update_message(message.channel, message.ts, text=card.text, blocks=card.blocks)
        except SlackUnavailable as exc:
            failure = failure or exc
            continue
        except SlackError as exc:
            # A message deleted in Slack, or a channel the bot left: nothing to update any more.
            logger.warning("Slack message %s not updated: %s", message.pk, exc)
            continue
        SlackMessage.objects.filter(pk=message.pk).update(
            digest=card.digest, updated_at=timezone.now()
        )
        updated += 1
    if failure is not None:
        raise failure
    return updated
