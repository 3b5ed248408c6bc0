"""Requests as Slack sends them: Slack's published payloads, signed with slack-sdk."""

from __future__ import annotations

import copy
import json
import time
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from slack_sdk.signature import SignatureVerifier

from chat import blocks
from chat.models import SlackMessage
from tests.chat.slack_server import SIGNING_SECRET, TEAM_ID, recorded


def slack_id(user: Any) -> str:
    return "U" + user.get_username().upper()


def signed(body: str, *, secret: str = SIGNING_SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def post(client: Any, url: str, body: str, headers: dict[str, str]) -> Any:
    return client.post(
        url, data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )


def interaction_body(payload: dict[str, Any]) -> str:
    return f"payload={quote(json.dumps(payload))}"


def button_payload(user: Any, action_id: str, value: str, *, channel: str = "") -> dict[str, Any]:
    payload = copy.deepcopy(recorded("block_actions.json"))
    payload["user"].update({"id": slack_id(user), "team_id": TEAM_ID})
    payload["team"]["id"] = TEAM_ID
    channel = channel or "D" + slack_id(user)
    payload["container"].update({"channel_id": channel, "is_ephemeral": False})
    payload["channel"] = {"id": channel, "name": "directmessage"}
    payload["actions"][0].update({"action_id": action_id, "value": value, "block_id": "act"})
    return payload


def submission_payload(
    user: Any, callback_id: str, metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    payload = copy.deepcopy(recorded("view_submission.json"))
    payload["user"].update({"id": slack_id(user), "team_id": TEAM_ID})
    payload["team"]["id"] = TEAM_ID
    payload["view"].update(
        {"callback_id": callback_id, "private_metadata": metadata, "state": {"values": values}}
    )
    return payload


def reason(text: str) -> dict[str, Any]:
    return {blocks.REASON_BLOCK: {blocks.REASON_INPUT: {"type": "plain_text_input", "value": text}}}


def verdict(choice: str) -> dict[str, Any]:
    return {
        blocks.VERDICT_BLOCK: {
            blocks.VERDICT_INPUT: {
                "type": "radio_buttons",
                "selected_option": {
                    "text": {"type": "plain_text", "text": choice},
                    "value": choice,
                },
            }
        }
    }


def interact(client: Any, project: Any, payload: dict[str, Any], **sign: Any) -> Any:
    body = interaction_body(payload)
    url = reverse("slack_interactivity", args=[project.slug])
    return post(client, url, body, signed(body, **sign))


def buttons_of(card_blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The buttons of a message by their text."""
    return {
        element["text"]["text"]: element
        for block in card_blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def text_of(card_blocks: list[dict[str, Any]]) -> str:
    return "\n".join(
        block["text"]["text"] for block in card_blocks if block.get("type") == "section"
    )


def message_for(release: Any, user: Any) -> SlackMessage:
    return SlackMessage.objects.filter(release=release, user=user).latest("pk")
