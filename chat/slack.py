"""The Slack Web API, as Greenlight calls it: a few methods over ``lib.outbound``.

Every call goes to ``settings.SLACK_API_URL`` (``https://slack.com/api/`` unless set; the suite
points it at a local stand-in) with the bot token as a bearer token. Slack answers HTTP 200 with
``"ok": false`` and an error code for most failures; 429 with ``Retry-After`` when rate limited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from lib import outbound
from monitoring.integrations.base import ConfigError, DestinationRefused, IntegrationError
from monitoring.integrations.http import HttpClient, json_of, retry_after

# Slack's error codes that mean the token is wrong, revoked or lacks a scope: saving the app or
# sending again does not heal them.
AUTH_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "no_permission",
}
# Not a user of this workspace (the older and the newer spelling of the error).
NOT_FOUND = {"users_not_found", "user_not_found"}


class SlackError(Exception):
    """Slack refused the call (``code`` is Slack's error code) or could not be called."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class SlackUnavailable(SlackError):
    """Worth trying again later: no answer, a server error, or a rate limit."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def api_url(method: str) -> str:
    return settings.SLACK_API_URL.rstrip("/") + "/" + method


class SlackClient:
    """One bot token's calls; make one per task or request."""

    def __init__(self, token: str, *, transport: outbound.BaseTransport | None = None) -> None:
        self._token = token
        self._http = HttpClient(transport=transport, connect_retries=1)

    def __enter__(self) -> SlackClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def call(self, method: str, *, get: bool = False, **args: Any) -> dict[str, Any]:
        """Call one Web API method; the answer when ``ok``, else ``SlackError``."""
        what = f"Slack's {method}"
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            if get:
                response = self._http.request(
                    "GET",
                    api_url(method),
                    what=what,
                    headers=headers,
                    params=args,
                    check_status=False,
                )
            else:
                response = self._http.request(
                    "POST",
                    api_url(method),
                    what=what,
                    headers=headers,
                    json=args,
                    check_status=False,
                )
        except (DestinationRefused, ConfigError) as exc:
            raise SlackError(str(exc)) from exc
        except IntegrationError as exc:
            raise SlackUnavailable(str(exc)) from exc
        code = response.status_code
        if code == 429 or code >= 500:
            wait = retry_after(response.headers, provider=None, now=self._http.now())
            raise SlackUnavailable(f"{what} answered HTTP {code}.", retry_after=wait)
        if code >= 400:
            raise SlackError(f"{what} refused the call (HTTP {code}).")
        try:
            body = json_of(response, what=what)
        except IntegrationError as exc:
            raise SlackError(str(exc)) from exc
        if not isinstance(body, dict):
            raise SlackError(f"The answer of {what} is not a JSON object.")
        if not body.get("ok"):
            error = str(body.get("error") or "unknown_error")
            if error == "ratelimited":
                raise SlackUnavailable(f"{what} is rate limited.")
            raise SlackError(f"Slack refused {method}: {error}.", code=error)
        return body

    # --- the methods Greenlight uses ----------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        return self.call("auth.test")

    def open_dm(self, slack_user_id: str) -> str:
        """The ID (D…) of the direct-message conversation with one person."""
        answer = self.call("conversations.open", users=slack_user_id)
        return str(answer["channel"]["id"])

    def post_message(self, channel: str, *, text: str, blocks: list[dict] | None = None) -> str:
        """Post; return the new message's ``ts`` (its ID within the channel)."""
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if blocks is not None:
            args["blocks"] = blocks
        answer = self.call("chat.postMessage", **args)
        return str(answer["ts"])

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: list[dict] | None = None
    ) -> None:
        # Without ``blocks`` chat.update would remove them: always send what the message shows.
        self.call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])

    def post_ephemeral(self, channel: str, slack_user_id: str, *, text: str) -> None:
        self.call("chat.postEphemeral", channel=channel, user=slack_user_id, text=text)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.call("views.open", trigger_id=trigger_id, view=view)

    def lookup_by_email(self, email: str) -> str | None:
        """The Slack user ID of whoever has this (confirmed) email in the workspace, or None."""
        try:
            answer = self.call("users.lookupByEmail", get=True, email=email)
        except SlackError as exc:
            if exc.code in NOT_FOUND:
                return None
            raise
        return str(answer["user"]["id"])
