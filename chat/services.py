"""Slack's door into Greenlight: configuring a project's Slack app, linking people, checking
requests, and the actions behind the buttons.

The buttons call the approvals and monitoring services themselves, with their guards; this
module adds only what Slack needs on top: who the Slack user is, that the request really came
from Slack (once), and that the message pressed still shows what is being approved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from slack_sdk.signature import SignatureVerifier

from approvals.models import Decision, SignOff
from approvals.services import decisions, sign_offs
from chat.blocks import content_version
from chat.models import SlackApp, SlackLink, SlackLinkCode, SlackRequest
from chat.slack import SlackClient, SlackError
from lib.errors import NotAllowed, Refused
from lib.links import absolute
from monitoring.models import Check
from monitoring.services import results
from releases import access as rules
from releases.events import log_project_change, log_project_event
from releases.models import Project, ProjectEventKind, Release
from releases.services import common

# Slack's own window for a signed request: older (or from further in the future) is refused.
SIGNATURE_WINDOW = dt.timedelta(minutes=5)
LINK_CODE_LIFETIME = dt.timedelta(minutes=15)

STALE_BUTTON = (
    "This message is out of date: what it asks you to approve has changed since it was sent "
    "(a new commit or a scope change). It now shows the release as it is; look again before "
    "you answer."
)
NOT_LINKED = "Greenlight does not know who you are in Slack yet."


class NotSigned(Exception):
    """The request is not from Slack: no, a wrong or an expired signature, or a replay."""


# --- the project's Slack app -------------------------------------------------------------------


def configure_slack_app(
    project: Project,
    *,
    by: Any,
    bot_token: str = "",
    signing_secret: str = "",
    release_channel: str = "",
    client: SlackClient | None = None,
) -> SlackApp:
    """Save the project's Slack app. A token or secret left empty keeps the stored one; a new
    token is tried (Slack's ``auth.test``) before it is saved, which also tells the workspace."""
    rules.MANAGE_PROJECT.check(by, project)
    bot_token, signing_secret = bot_token.strip(), signing_secret.strip()
    release_channel = release_channel.strip()
    existing = SlackApp.objects.filter(project=project).first()
    if existing is None and not (bot_token and signing_secret):
        raise ValidationError(
            {
                name: "Required to connect the Slack app."
                for name, given in (("bot_token", bot_token), ("signing_secret", signing_secret))
                if not given
            }
        )
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ValidationError({"bot_token": "A bot token starts with xoxb-."})
    if release_channel and (release_channel[:1] not in "CG" or " " in release_channel):
        raise ValidationError(
            {"release_channel": "Give the channel's ID (C…), not its name; empty for none."}
        )
    identity: dict[str, Any] = {}
    if bot_token:
        try:
            with client or SlackClient(bot_token) as slack:
                identity = slack.auth_test()
        except SlackError as exc:
            raise ValidationError({"bot_token": f"Slack did not accept the token: {exc}"}) from exc
    with transaction.atomic():
        app = SlackApp.objects.select_for_update().filter(project=project).first() or SlackApp(
            project=project
        )
        if bot_token or signing_secret:
            app.set_secrets(
                bot_token=bot_token or app.bot_token,
                signing_secret=signing_secret or app.signing_secret,
            )
        if identity:
            app.team_id = str(identity.get("team_id", ""))
            app.team_name = str(identity.get("team", ""))[:120]
            app.bot_user_id = str(identity.get("user_id", ""))
        app.release_channel = release_channel
        log_project_change(project, actor=by, kind=ProjectEventKind.INTEGRATION, row=app)
        app.save()
    return app


def remove_slack_app(project: Project, *, by: Any) -> None:
    rules.MANAGE_PROJECT.check(by, project)
    with transaction.atomic():
        app = SlackApp.objects.select_for_update().filter(project=project).first()
        if app is None:
            raise Refused("The project has no Slack app.")
        log_project_change(
            project, actor=by, kind=ProjectEventKind.INTEGRATION, row=app, removed=True
        )
        app.delete()


# --- requests from Slack -----------------------------------------------------------------------


def verify_request(
    app: SlackApp, body: bytes, headers: dict[str, str], *, now: dt.datetime | None = None
) -> None:
    """Accept a request once: signed with the app's secret (slack-sdk's verifier, Slack's
    5-minute window) and never seen before. Raises ``NotSigned`` otherwise."""
    now = now or timezone.now()
    secret = app.signing_secret
    if not secret:
        raise NotSigned("The Slack app has no signing secret.")
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature:
        raise NotSigned("The request is not signed.")

    class _Clock:
        def now(self) -> float:
            return now.timestamp()

    verifier = SignatureVerifier(secret, clock=_Clock())
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise NotSigned("The request's signature is wrong or too old.")
    digest = hashlib.sha256(signature.encode()).hexdigest()
    try:
        with transaction.atomic():
            SlackRequest.objects.filter(received_at__lt=now - 2 * SIGNATURE_WINDOW).delete()
            SlackRequest.objects.create(signature=digest, received_at=now)
    except IntegrityError as exc:
        raise NotSigned("The request was already received once.") from exc


def person_for(app: SlackApp, slack_user_id: str) -> Any | None:
    link = (
        SlackLink.objects.filter(team_id=app.team_id, slack_user_id=slack_user_id)
        .select_related("user")
        .first()
    )
    if link is None or not link.user.is_active:
        return None
    return link.user


def slack_user_of(app: SlackApp, user: Any) -> str | None:
    return (
        SlackLink.objects.filter(team_id=app.team_id, user=user)
        .values_list("slack_user_id", flat=True)
        .first()
    )


# --- linking people ----------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def issue_link_code(app: SlackApp, slack_user_id: str, *, now: dt.datetime | None = None) -> str:
    """A one-time address that links this Slack user to whoever opens it signed in."""
    now = now or timezone.now()
    code = secrets.token_urlsafe(24)
    SlackLinkCode.objects.create(
        app=app, code_hash=_code_hash(code), slack_user_id=slack_user_id, created_at=now
    )
    return absolute(reverse("slack_link_code", args=[code]))


def pending_link(code: str, *, now: dt.datetime | None = None) -> SlackLinkCode | None:
    now = now or timezone.now()
    return (
        SlackLinkCode.objects.filter(
            code_hash=_code_hash(code),
            used_at__isnull=True,
            created_at__gte=now - LINK_CODE_LIFETIME,
        )
        .select_related("app__project")
        .first()
    )


def _link(user: Any, *, team_id: str, slack_user_id: str, method: str) -> SlackLink:
    taken = SlackLink.objects.filter(team_id=team_id, slack_user_id=slack_user_id).first()
    if taken is not None and taken.user_id != user.pk:
        raise Refused("This Slack user is already linked to another Greenlight account.")
    SlackLink.objects.filter(team_id=team_id, user=user).exclude(
        slack_user_id=slack_user_id
    ).delete()
    link, _ = SlackLink.objects.update_or_create(
        team_id=team_id,
        slack_user_id=slack_user_id,
        defaults={"user": user, "method": method, "linked_at": timezone.now()},
    )
    log_project_event(
        None,
        actor=user,
        kind=ProjectEventKind.INTEGRATION,
        action="added",
        summary=f"Slack user {slack_user_id} in {team_id} linked to {user.get_username()} "
        f"({link.get_method_display().lower()})",
        data={"team_id": team_id, "slack_user_id": slack_user_id, "method": method},
    )
    return link


def link_by_code(code: str, *, user: Any, now: dt.datetime | None = None) -> SlackLink:
    """Link the Slack user who asked for this one-time link to ``user``; the link is spent."""
    with transaction.atomic():
        pending = pending_link(code, now=now)
        if pending is None:
            raise Refused("This link has expired or was used already; ask /greenlight link again.")
        spent = SlackLinkCode.objects.filter(pk=pending.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if not spent:
            raise Refused("This link was used already; ask /greenlight link again.")
        if not pending.app.team_id:
            raise Refused("The project's Slack app has no workspace yet; save its token again.")
        return _link(
            user,
            team_id=pending.app.team_id,
            slack_user_id=pending.slack_user_id,
            method=SlackLink.Method.LINK,
        )


def link_by_email(user: Any, *, app: SlackApp, client: SlackClient | None = None) -> SlackLink:
    """Link ``user`` to the Slack user of the workspace whose confirmed email is theirs."""
    if not rules.is_project_member(user, app.project):
        raise NotAllowed("Only the project's members link their Slack user through its app.")
    email = (user.email or "").strip()
    if not email:
        raise Refused("Your Greenlight account has no email address to look for in Slack.")
    if not app.team_id:
        raise Refused("The project's Slack app has no workspace yet; save its token again.")
    try:
        with client or SlackClient(app.bot_token) as slack:
            slack_user_id = slack.lookup_by_email(email)
    except SlackError as exc:
        raise Refused(f"Slack could not be asked: {exc}") from exc
    if slack_user_id is None:
        raise Refused(
            f"No one in the {app.team_name or 'Slack'} workspace has the email address {email}."
        )
    with transaction.atomic():
        return _link(
            user, team_id=app.team_id, slack_user_id=slack_user_id, method=SlackLink.Method.EMAIL
        )


def unlink(user: Any, *, link_id: int) -> None:
    with transaction.atomic():
        link = SlackLink.objects.select_for_update().filter(pk=link_id, user=user).first()
        if link is None:
            raise Refused("There is no such link.")
        log_project_event(
            None,
            actor=user,
            kind=ProjectEventKind.INTEGRATION,
            action="removed",
            summary=f"Slack user {link.slack_user_id} in {link.team_id} unlinked from "
            f"{user.get_username()}",
            data={"team_id": link.team_id, "slack_user_id": link.slack_user_id},
        )
        link.delete()


# --- the buttons -------------------------------------------------------------------------------


def _fresh(release: Release, version: str) -> Release:
    """Lock the release (inside the caller's transaction) and refuse if the button's version
    is not what the release is now: the service call that follows sees the same state."""
    locked = common.lock_release(release)
    if version != content_version(locked):
        raise Refused(STALE_BUTTON)
    return locked


def sign_from_slack(
    release: Release, *, by: Any, role: str, decision: str, version: str, comment: str = ""
) -> SignOff:
    with transaction.atomic():
        locked = _fresh(release, version)
        return sign_offs.record_sign_off(
            locked, by=by, role=role, decision=decision, comment=comment
        )


def decide_from_slack(
    release: Release, *, by: Any, outcome: str, version: str, status: str, notes: str = ""
) -> Decision:
    """Record the go/no-go. A Go over blockers needs an override with a reason, which is given
    on the release page: from Slack the service refuses it with its own sentence."""
    with transaction.atomic():
        locked = _fresh(release, version)
        if locked.status != status:
            raise Refused(STALE_BUTTON)
        return decisions.record_decision(locked, by=by, outcome=outcome, notes=notes)


def judge_from_slack(check: Check, *, by: Any, passed: bool, reason: str, version: str) -> Check:
    with transaction.atomic():
        _fresh(check.release, version)
        return results.judge_check(check, by=by, passed=passed, reason=reason)


def request_url(project: Project, name: str) -> str:
    """The Request URL to paste into the Slack app's settings."""
    return absolute(reverse(name, args=[project.slug]))
