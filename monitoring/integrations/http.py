"""The HTTP client every adapter goes through, over :mod:`lib.outbound` and its egress policy.

It sets timeouts, retries only what is safe to retry (a connection that was never made), turns
HTTP answers into :class:`~monitoring.integrations.base.IntegrationError` subclasses with the
retry delay the provider asked for, and never logs headers, bodies or credentials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings

from lib import outbound
from monitoring.integrations.base import (
    AuthError,
    BadRequest,
    BadResponse,
    ConfigError,
    DestinationRefused,
    NotFound,
    RateLimited,
    Unavailable,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = outbound.DEFAULT_TIMEOUT

# GitHub asks for at least a minute when a limit gives no hint of its own.
_GITHUB_FALLBACK_WAIT = 60.0


def _seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _until_epoch(raw: str | None, now: float) -> float | None:
    epoch = _seconds(raw)
    return None if epoch is None else max(0.0, epoch - now)


def _until_iso(raw: str | None, now: float) -> float | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _retry_after_header(raw: str | None, now: float) -> float | None:
    """``Retry-After`` is seconds, or an HTTP date."""
    if raw is None:
        return None
    seconds = _seconds(raw)
    if seconds is not None:
        return seconds
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def _github_reset(headers: outbound.Headers, now: float) -> float | None:
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    return _until_epoch(headers.get("x-ratelimit-reset"), now)


def _launchdarkly_reset(headers: outbound.Headers, now: float) -> float | None:
    # LaunchDarkly's reset is an epoch in milliseconds.
    epoch_ms = _seconds(headers.get("x-ratelimit-reset"))
    return None if epoch_ms is None else max(0.0, epoch_ms / 1000 - now)


def _split_reset(headers: outbound.Headers) -> float | None:
    # Split limits per organisation and per address; wait for the later of the two.
    waits = [_seconds(headers.get(f"x-ratelimit-reset-seconds-{scope}")) for scope in ("org", "ip")]
    known = [wait for wait in waits if wait is not None]
    return max(known) if known else None


# The provider's own reset header, read when there is no Retry-After. Jira and Datadog share the
# header name X-RateLimit-Reset with different meanings, so the caller has to say who it is.
RESET_PARSERS: dict[str, Callable[[outbound.Headers, float], float | None]] = {
    "github": _github_reset,
    "gitlab": lambda h, now: _until_epoch(h.get("ratelimit-reset"), now),
    "sentry": lambda h, now: _until_epoch(h.get("x-sentry-rate-limit-reset"), now),
    "jira": lambda h, now: _until_iso(h.get("x-ratelimit-reset"), now),
    "datadog": lambda h, now: _seconds(h.get("x-ratelimit-reset")),
    "launchdarkly": lambda h, now: _launchdarkly_reset(h, now),
    "split": lambda h, now: _split_reset(h),
}


def retry_after(headers: outbound.Headers, *, provider: str | None, now: float) -> float | None:
    """Seconds to wait: ``Retry-After`` first, then the provider's reset header."""
    wait = _retry_after_header(headers.get("retry-after"), now)
    if wait is None and provider in RESET_PARSERS:
        wait = RESET_PARSERS[provider](headers, now)
    if wait is None and provider == "github":
        wait = _GITHUB_FALLBACK_WAIT
    return wait


def _is_rate_limited_403(response: outbound.Response) -> bool:
    # GitHub answers an exhausted or secondary limit with 403, not 429; telling it apart from
    # "no access" matters because one heals by waiting and the other never does.
    headers = response.headers
    return headers.get("x-ratelimit-remaining", "").strip() == "0" or "retry-after" in headers


def _error_excerpt(response: outbound.Response) -> str:
    """The provider's own error message, short, when the body is JSON that carries one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message: Any = None
    if isinstance(body, Mapping):
        for key in ("message", "error", "errorMessages", "errors", "detail"):
            if body.get(key):
                message = body[key]
                break
    if isinstance(message, list):
        message = "; ".join(
            str(m.get("message", m)) if isinstance(m, Mapping) else str(m) for m in message
        )
    if not message:
        return ""
    text = " ".join(str(message).split())
    return f": {text[:200]}"


class HttpClient:
    """A thin wrapper over :class:`lib.outbound.Client`; make one per polling cycle or worker."""

    def __init__(
        self,
        *,
        transport: outbound.BaseTransport | None = None,
        timeout: outbound.Timeout = DEFAULT_TIMEOUT,
        connect_retries: int = 2,
        retry_delay: float | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.now = now
        self._sleep = sleep
        self._connect_retries = connect_retries
        self._retry_delay = settings.OUTBOUND_RETRY_DELAY if retry_delay is None else retry_delay
        # Redirects are followed only where a caller asks, and then by lib.outbound, which drops
        # every header the caller set (PRIVATE-TOKEN, DD-API-KEY...) on a cross-origin hop.
        self._client = outbound.Client(transport=transport, timeout=timeout)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        auth: tuple[str, str] | None = None,
        provider: str | None = None,
        etag: str | None = None,
        check_status: bool = True,
        follow_redirects: bool = False,
        same_origin_redirects: bool = False,
    ) -> outbound.Response:
        """Send one request; ``what`` names the thing asked for, for error messages.

        ``content`` sends these exact bytes as the body (a signed payload must not be
        serialised again); ``json`` serialises an object.

        With ``check_status`` (the default) any answer other than 2xx or 304 raises an
        :class:`IntegrationError`; without it, only transport failures raise.
        """
        request_headers = dict(headers or {})
        if etag:
            request_headers["If-None-Match"] = etag
        attempts = 1 + max(0, self._connect_retries)
        for attempt in range(1, attempts + 1):
            try:
                logger.debug("%s %s (%s)", method, _loggable(url), what)
                response = self._client.request(
                    method,
                    url,
                    headers=request_headers,
                    params=params,
                    json=json,
                    content=content,
                    auth=auth,
                    follow_redirects=follow_redirects,
                    same_origin_redirects=same_origin_redirects,
                )
                break
            except outbound.Refused as exc:
                raise DestinationRefused(f"Refused to call {what}: {exc.message}") from exc
            except (outbound.InvalidURL, outbound.TooManyRedirects) as exc:
                raise ConfigError(f"Cannot call {what}: {exc.message}") from exc
            except outbound.AnswerTooLarge as exc:
                raise BadResponse(f"The answer for {what} was not read: {exc.message}") from exc
            except outbound.Unreachable as exc:
                # Only a connection that was never made is tried again: nothing reached the
                # server, so sending again cannot repeat a side effect.
                if exc.connected or attempt == attempts:
                    raise Unavailable(f"Could not get an answer for {what}: {exc.message}") from exc
                self._sleep(self._retry_delay * attempt)
        if check_status:
            self.raise_for_status(response, what=what, provider=provider)
        return response

    def get(self, url: str, *, what: str, **kwargs: Any) -> outbound.Response:
        return self.request("GET", url, what=what, **kwargs)

    def get_json(self, url: str, *, what: str, **kwargs: Any) -> Any:
        return json_of(self.request("GET", url, what=what, **kwargs), what=what)

    def post_json(self, url: str, *, what: str, **kwargs: Any) -> Any:
        return json_of(self.request("POST", url, what=what, **kwargs), what=what)

    def raise_for_status(
        self,
        response: outbound.Response,
        *,
        what: str,
        provider: str | None = None,
        quote_body: bool = True,
    ) -> None:
        """Raise for an answer other than 2xx or 304. ``quote_body=False`` for an address a
        member typed: what it answered is not repeated to everyone who reads the check."""
        code = response.status_code
        if 200 <= code < 300 or code == 304:
            return
        excerpt = _error_excerpt(response) if quote_body else ""
        if code == 429 or code == 503 or (code == 403 and _is_rate_limited_403(response)):
            wait = retry_after(response.headers, provider=provider, now=self.now())
            raise RateLimited(
                f"Rate limited or unavailable while asking for {what} (HTTP {code}){excerpt}.",
                retry_after=wait,
            )
        if code == 401:
            raise AuthError(f"The credentials were rejected for {what} (HTTP 401){excerpt}.")
        if code == 403:
            raise AuthError(f"The credentials do not give access to {what} (HTTP 403){excerpt}.")
        if code == 404:
            raise NotFound(f"{_capitalised(what)} was not found (HTTP 404){excerpt}.")
        if 300 <= code < 400:
            location = _loggable(response.headers.get("location", "")) or "elsewhere"
            raise BadRequest(f"{_capitalised(what)} redirects (HTTP {code}) to {location}.")
        if code < 500:
            raise BadRequest(f"The request for {what} was refused (HTTP {code}){excerpt}.")
        raise Unavailable(f"The server failed while answering for {what} (HTTP {code}).")


def json_of(response: outbound.Response, *, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BadResponse(f"The answer for {what} is not valid JSON.") from exc


def _loggable(url: str) -> str:
    """The URL without its query string, which can carry tokens on some APIs."""
    return url.split("?", 1)[0]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
