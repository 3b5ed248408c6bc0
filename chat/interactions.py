"""Slack's payloads translated into service calls, and the services' answers into Slack's.

A refusal is answered with the service's own sentence (the one the release page shows): in a
private message for a button, under the field for a modal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chat import blocks, services
from chat.models import SlackApp
from chat.slack import SlackClient, SlackError
from chat.tasks import say_privately
from lib.errors import NotAllowed, Refused
from monitoring.models import Check
from releases.access import access_for
from releases.models import Release

logger = logging.getLogger(__name__)

# The buttons that open a modal; the modal's callback_id is the button's action_id.
MODALS = {blocks.NO_GO, blocks.RECORD_NO_GO, blocks.JUDGE}


def _say(app: SlackApp, channel: str, slack_user_id: str, text: str, *, raw: bool = False) -> None:
    """Answer privately after the commit. Text is escaped (it carries names and sentences
    people typed), except ``raw`` text that Greenlight wrote with its own link markup."""
    text = text if raw else blocks.escape(text)
    if channel:
        transaction.on_commit(
            lambda: say_privately.delay(app.pk, channel, slack_user_id, text), robust=True
        )


def _not_linked(app: SlackApp, slack_user_id: str) -> str:
    url = services.issue_link_code(app, slack_user_id)
    return (
        f"{services.NOT_LINKED} Open <{url}|this one-time link> signed in to Greenlight to link "
        "your Slack user (valid 15 minutes), then press the button again."
    )


def _decode(raw: str) -> dict[str, Any] | None:
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        return None
    return data


def _release_for(person: Any, data: dict[str, Any], app: SlackApp) -> Release | None:
    release = (
        Release.objects.select_related("project")
        .filter(pk=data["r"], project_id=app.project_id)
        .first()
    )
    if release is None or not access_for(person, release).can_view:
        return None
    return release


def _errors_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _run(call: Any) -> tuple[Any, str]:
    """Call one service; (result, "") or (None, the sentence that refused it)."""
    try:
        return call(), ""
    except (NotAllowed, Refused) as exc:
        return None, str(exc)
    except ValidationError as exc:
        return None, _errors_text(exc)


def block_actions(
    app: SlackApp, payload: dict[str, Any], *, client: SlackClient | None = None
) -> None:
    """A button was pressed. Go and Record Go act at once; No-go, Record No-go and Judge open
    a modal that asks for the reason."""
    slack_user_id = str((payload.get("user") or {}).get("id", ""))
    channel = str((payload.get("container") or {}).get("channel_id", "")) or str(
        (payload.get("channel") or {}).get("id", "")
    )
    actions = payload.get("actions") or []
    if not actions or not slack_user_id:
        return
    action = actions[0]
    action_id = str(action.get("action_id", ""))
    person = services.person_for(app, slack_user_id)
    if person is None:
        _say(app, channel, slack_user_id, _not_linked(app, slack_user_id), raw=True)
        return
    data = _decode(str(action.get("value", "")))
    release = _release_for(person, data, app) if data else None
    if release is None:
        _say(app, channel, slack_user_id, "This release is not there, or not yours to see.")
        return
    version = str(data.get("v", ""))
    if action_id == blocks.GO:
        result, problem = _run(
            lambda: services.sign_from_slack(
                release, by=person, role=str(data.get("role", "")), decision="go", version=version
            )
        )
        done = f"Your Go as {result.get_role_display()} on {release} is recorded." if result else ""
        _say(app, channel, slack_user_id, problem or done)
    elif action_id == blocks.RECORD_GO:
        result, problem = _run(
            lambda: services.decide_from_slack(
                release, by=person, outcome="go", version=version, status=str(data.get("s", ""))
            )
        )
        _say(app, channel, slack_user_id, problem or f"Go recorded on {release}.")
    elif action_id in MODALS:
        if version != blocks.content_version(release):
            _say(app, channel, slack_user_id, services.STALE_BUTTON)
            return
        metadata = json.dumps({**data, "ch": channel}, separators=(",", ":"))
        if action_id == blocks.NO_GO:
            view = blocks.no_go_modal(release, str(data.get("role", "")), metadata)
        elif action_id == blocks.RECORD_NO_GO:
            view = blocks.record_no_go_modal(release, metadata)
        else:
            check = Check.objects.filter(pk=data.get("c"), release=release).first()
            if check is None:
                _say(app, channel, slack_user_id, "This check is no longer on the release.")
                return
            view = blocks.judge_modal(release, check, metadata)
        try:
            with client or SlackClient(app.bot_token) as slack:
                slack.open_view(str(payload.get("trigger_id", "")), view)
        except SlackError as exc:
            logger.warning("Slack modal not opened: %s", exc)
            _say(
                app, channel, slack_user_id, "Slack did not open the form; press the button again."
            )


def _value(state: dict[str, Any], block_id: str, action_id: str) -> Any:
    return ((state.get("values") or {}).get(block_id) or {}).get(action_id) or {}


def view_submission(app: SlackApp, payload: dict[str, Any]) -> dict[str, Any] | None:
    """A modal was submitted: None closes it; an ``errors`` answer keeps it open and shows the
    refusal under the reason."""
    view = payload.get("view") or {}
    callback_id = str(view.get("callback_id", ""))
    if callback_id not in MODALS:
        return None
    slack_user_id = str((payload.get("user") or {}).get("id", ""))
    person = services.person_for(app, slack_user_id)
    data = _decode(str(view.get("private_metadata", "")))

    def refuse(text: str) -> dict[str, Any]:
        return {"response_action": "errors", "errors": {blocks.REASON_BLOCK: text[:2000]}}

    if person is None:
        return refuse(_not_linked(app, slack_user_id))
    release = _release_for(person, data, app) if data else None
    if release is None:
        return refuse("This release is not there, or not yours to see.")
    state = view.get("state") or {}
    reason = str(_value(state, blocks.REASON_BLOCK, blocks.REASON_INPUT).get("value") or "")
    version = str(data.get("v", ""))
    if callback_id == blocks.NO_GO:
        result, problem = _run(
            lambda: services.sign_from_slack(
                release,
                by=person,
                role=str(data.get("role", "")),
                decision="no_go",
                comment=reason,
                version=version,
            )
        )
        done = (
            f"Your No-go as {result.get_role_display()} on {release} is recorded." if result else ""
        )
    elif callback_id == blocks.RECORD_NO_GO:
        result, problem = _run(
            lambda: services.decide_from_slack(
                release,
                by=person,
                outcome="no_go",
                notes=reason,
                version=version,
                status=str(data.get("s", "")),
            )
        )
        done = f"No-go recorded on {release}."
    else:
        verdict = _value(state, blocks.VERDICT_BLOCK, blocks.VERDICT_INPUT)
        picked = str((verdict.get("selected_option") or {}).get("value", ""))
        check = (
            Check.objects.filter(pk=data.get("c"), release=release)
            .select_related("release")
            .first()
        )
        if picked not in ("pass", "fail"):
            return {
                "response_action": "errors",
                "errors": {blocks.VERDICT_BLOCK: "Choose Pass or Fail."},
            }
        if check is None:
            return refuse("This check is no longer on the release.")
        result, problem = _run(
            lambda: services.judge_from_slack(
                check, by=person, passed=picked == "pass", reason=reason, version=version
            )
        )
        done = f"Judgement recorded for “{check.name}”."
    if problem:
        return refuse(problem)
    _say(app, str(data.get("ch", "")), slack_user_id, done)
    return None


def slash_command(app: SlackApp, form: dict[str, str]) -> dict[str, Any]:
    """``/greenlight <version>`` (or ``link``): answered to the asker only."""
    text = " ".join(str(form.get("text", "")).split())
    slack_user_id = str(form.get("user_id", ""))
    private = {"response_type": "ephemeral"}
    person = services.person_for(app, slack_user_id)
    if text == "link" or person is None:
        if person is not None:
            return {**private, "text": f"You are linked to {person.get_username()} already."}
        return {
            **private,
            "text": _not_linked(app, slack_user_id).replace("press the button again", "ask again"),
        }
    if not text or text == "help":
        return {
            **private,
            "text": "`/greenlight <version>` shows a release of "
            f"{app.project.name}; `/greenlight link` links your Slack user.",
        }
    release = (
        Release.objects.select_related("project")
        .filter(project_id=app.project_id, version=text)
        .first()
    )
    if release is None or not access_for(person, release).can_view:
        return {**private, "text": blocks.escape(f"{app.project.name} has no release {text}.")}
    return blocks.status_answer(release)
