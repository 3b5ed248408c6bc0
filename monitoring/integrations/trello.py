"""Trello (REST API 1): the cards of a list, or of a board with a label — imported as scope, or
counted as a check (how many are not done; by default none may be).

A card's key is its short link (the ``AbCd1234`` of ``trello.com/c/AbCd1234``), which is what a
commit or branch that names the card carries. A card is done when its due date is marked
complete, when it is archived, or when it sits in one of the integration's "done" lists. Trello
answers a list's or a board's cards in one reply, without pages, and shows nobody's email
address: imported cards have no owner.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import BadResponse, ConfigError, Connection, FieldSpec
from monitoring.integrations.http import HttpClient
from monitoring.integrations.trackers import KIND_MAP_FIELD, TrackerAdapter, TrackerItem

CARD_FIELDS = "id,idShort,shortLink,name,shortUrl,closed,idList,labels,dueComplete"


class TrelloCards(TrackerAdapter):
    kind = "trello"
    label = "Trello"
    noun = "card"
    default_base_url = "https://api.trello.com/1"
    sources = (("list", "Trello list"), ("label", "Trello label"))
    base_url_field = FieldSpec(
        "base_url", "API URL", required=False, help="https://api.trello.com/1 when empty."
    )
    config_fields = (
        FieldSpec(
            "board_id",
            "Board id",
            required=False,
            help="Needed to import by label: the board whose cards carry it.",
        ),
        FieldSpec(
            "done_lists",
            "Done lists",
            required=False,
            help="Ids of the lists whose cards are done, separated by commas.",
        ),
        KIND_MAP_FIELD,
    )
    secret_fields = (
        FieldSpec("key", "API key", secret=True),
        FieldSpec("token", "API token", secret=True),
    )
    param_fields = (
        FieldSpec("source", "Source", help="list or label"),
        FieldSpec("query", "List id or label name", help="{version} stands for the version."),
    )

    def items(
        self, conn: Connection, source: str, query: str, client: HttpClient
    ) -> list[TrackerItem]:
        base, query = conn.url(self.default_base_url), query.strip()
        if not query:
            raise ConfigError("Name the Trello list or label to read.")
        if source == "list":
            url = f"{base}/lists/{quote(query, safe='')}/cards"
            what = f"the Trello cards of list {query}"
        else:
            board = conn.setting("board_id")
            url = f"{base}/boards/{quote(board, safe='')}/cards/open"
            what = f"the Trello cards of board {board}"
        body = client.get_json(
            url,
            what=what,
            params={
                "fields": CARD_FIELDS,
                "key": conn.secret("key"),
                "token": conn.secret("token"),
            },
            provider=self.kind,
        )
        if not isinstance(body, list):
            raise BadResponse(f"The answer for {what} is not a list of cards.")
        cards = [card for card in body if isinstance(card, dict) and card.get("id")]
        if source == "label":
            cards = [card for card in cards if query.lower() in label_names(card)]
        done_lists = {
            part.strip() for part in str(conn.config.get("done_lists") or "").split(",")
        } - {""}
        return [card_item(card, done_lists) for card in cards]


def label_names(card: dict[str, Any]) -> set[str]:
    return {
        str(label.get("name") or "").lower()
        for label in card.get("labels") or []
        if isinstance(label, dict)
    }


def card_item(card: dict[str, Any], done_lists: set[str]) -> TrackerItem:
    labels = [
        str(label.get("name")) for label in card.get("labels") or [] if isinstance(label, dict)
    ]
    if card.get("closed") is True:
        status, done = "archived", True
    elif card.get("dueComplete") is True:
        status, done = "complete", True
    elif card.get("idList") in done_lists:
        status, done = "in a done list", True
    else:
        status, done = "open", False
    card_id = str(card["id"])
    return TrackerItem(
        external_id=card_id,
        key=str(card.get("shortLink") or card_id),
        title=str(card.get("name") or card_id)[:200],
        url=str(card.get("shortUrl") or ""),
        types=tuple(labels),
        status=status,
        done=done,
    )
