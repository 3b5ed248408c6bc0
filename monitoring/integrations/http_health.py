"""Plain HTTP health: a URL's status code, what kind of answer it is and, optionally, a text it
must contain or one field of its JSON body.

A 200 alone is not health: a login page, a maintenance page or a captive portal answers 200 too.
An HTML page fails unless the check expects HTML; a redirect to another origin (a single
sign-on page) fails without being followed. The integration's token goes only to its own
origin (scheme, host and port of its base URL): an absolute URL elsewhere is called without it,
so a check cannot carry the token to an address of its author's choosing.

What the answer says is not shown beyond the one value a check reads, and that only when it is
a short plain value: the URL can be any public address, and every project member reads checks.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from urllib.parse import urljoin

from lib import outbound
from monitoring.integrations.base import (
    FAILING,
    MISSING,
    NEEDS_JUDGEMENT,
    PASSING,
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    IntegrationError,
    Observation,
    dig,
    judge_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

NOT_HEALTH = {401, 403, 429}
# What is kept of a body to look for the expected text in; health answers are small.
TEXT_LIMIT = 64 * 1024
# A value read from the answer is shown only when it is this short (a status, a version).
SHOWN_LIMIT = 80
HTML_TYPES = ("text/html", "application/xhtml+xml")


def resolve_url(conn: Connection, spec: CheckSpec) -> str:
    url = spec.required("url")
    if url.startswith(("http://", "https://")):
        return url
    if not conn.base_url:
        raise ConfigError(f"The URL {url!r} is relative and the integration has no base URL.")
    return f"{conn.url()}/{url.lstrip('/')}"


def auth_headers(conn: Connection, url: str) -> dict[str, str]:
    """The bearer token, for a URL on the integration's own origin only."""
    token = conn.secrets.get("token")
    if not token or not conn.base_url or not outbound.same_origin(url, conn.url()):
        return {}
    return {"Authorization": f"Bearer {token}"}


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def same_value(actual: Any, expected: Any) -> bool:
    """A JSON value against one typed into a form: ``true`` matches True, ``1.2`` matches 1.2."""
    if isinstance(actual, bool):
        return str(expected).strip().lower() == str(actual).lower()
    if isinstance(actual, int | float) and to_number(expected) is not None:
        return float(actual) == to_number(expected)
    return str(actual) == str(expected).strip()


def show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def is_plain(value: Any) -> bool:
    """A value short and simple enough to show: not an object, a list or a page of text."""
    return isinstance(value, str | int | float | bool) and len(show(value)) <= SHOWN_LIMIT


class HttpHealth(Adapter):
    kind = "http_health"
    label = "HTTP health endpoint"
    base_url_field = FieldSpec("base_url", "Base URL", required=False)
    secret_fields = (FieldSpec("token", "Bearer token", required=False, secret=True),)
    param_fields = (
        FieldSpec(
            "url",
            "URL",
            help="Absolute, or relative to the integration's base URL. The bearer token is sent "
            "only to the base URL's origin.",
        ),
        FieldSpec(
            "expected_status", "Expected status code", required=False, help="Any 2xx when empty."
        ),
        FieldSpec(
            "expected_content_type",
            "Expected content type",
            required=False,
            help="e.g. application/json. When empty, anything but an HTML page (a login or "
            "error page is not a health answer).",
        ),
        FieldSpec("expected_text", "Text the answer must contain", required=False, help="e.g. OK"),
        FieldSpec("json_field", "JSON field (dotted path)", required=False),
        FieldSpec(
            "expected",
            "Expected value",
            required=False,
            help="Compared with the JSON field; or use a comparator and threshold.",
        ),
        FieldSpec("unit", "Unit shown after the value", required=False),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, resolve_url(conn, spec))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        url = resolve_url(conn, spec)
        # Status codes are the observation here, not a failure to observe; only transport
        # failures (timeouts, refused connections) raise. A redirect to another origin is not
        # followed: it is the answer, and a failing one.
        response = client.get(
            url,
            what=url,
            headers=auth_headers(conn, url),
            check_status=False,
            follow_redirects=True,
            same_origin_redirects=True,
        )
        try:
            body: Any = response.json()
        except ValueError:
            body = MISSING
        # 401/403/429 say nothing about the service's health, only that we could not look;
        # kept for evaluate(), which knows whether the check expects that very code.
        error: IntegrationError | None = None
        if response.status_code in NOT_HEALTH:
            try:
                client.raise_for_status(response, what=url, quote_body=False)
            except IntegrationError as exc:
                error = exc
        location = response.headers.get("location", "") if response.is_redirect else ""
        payload = {
            "status_code": response.status_code,
            "content_type": media_type(response.headers.get("content-type", "")),
            "text": response.text[:TEXT_LIMIT],
            "json": body,
            "error": error,
            "away": _origin_of(urljoin(str(response.url), location)) if location else "",
        }
        return Fetched(payload=payload, url=url)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        code = fetched.payload["status_code"]
        expected_status = spec.param("expected_status")
        if expected_status is not None:
            try:
                status_ok = code == int(expected_status)
            except ValueError:
                raise ConfigError("The expected status code must be a number.") from None
            wanted = str(expected_status)
        else:
            status_ok, wanted = 200 <= code < 300, "2xx"
        away = fetched.payload.get("away", "")
        if away and not status_ok:
            return Observation(
                status=FAILING,
                value="redirected away",
                numeric=float(code),
                detail=f"{fetched.url} redirects to another origin ({away}), as a sign-in page "
                "does; expected a health answer.",
                url=fetched.url,
            )
        if not status_ok and fetched.payload["error"] is not None:
            raise fetched.payload["error"]
        if not status_ok:
            return Observation(
                status=FAILING,
                value=f"HTTP {code}",
                numeric=float(code),
                detail=f"{fetched.url} answered HTTP {code}; expected {wanted}.",
                url=fetched.url,
            )

        wrong_kind = self._wrong_kind(fetched, spec)
        if wrong_kind is not None:
            return wrong_kind
        path = spec.param("json_field")
        if path is None:
            return Observation(
                status=PASSING,
                value=f"HTTP {code}",
                numeric=float(code),
                detail=f"{fetched.url} answered HTTP {code}.",
                url=fetched.url,
            )
        body = fetched.payload["json"]
        if body is MISSING:
            raise BadResponse(f"{fetched.url} did not answer with valid JSON.")
        value = dig(body, path)
        if value is MISSING or value is None:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no value",
                detail=f"The answer has no {path!r} field.",
                url=fetched.url,
            )
        if not is_plain(value):
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="not a single value",
                detail=f"The {path!r} field is not a short single value; point the check at one.",
                url=fetched.url,
            )
        expected = spec.param("expected")
        if expected is not None:
            ok = same_value(value, expected)
            return Observation(
                status=PASSING if ok else FAILING,
                value=show(value),
                numeric=to_number(value),
                detail=f"{path} is {show(value)!r}; expected {str(expected)!r}.",
                url=fetched.url,
            )
        if spec.comparator is not None or spec.threshold is not None:
            return judge_number(
                to_number(value), spec, subject=path, url=fetched.url, unit=spec.param("unit", "")
            )
        raise ConfigError("Give the JSON field an expected value or a comparator and threshold.")

    def _wrong_kind(self, fetched: Fetched, spec: CheckSpec) -> Observation | None:
        """A failing observation when the answer is not the kind of answer the check expects."""
        code = fetched.payload["status_code"]
        content_type = fetched.payload.get("content_type", "")
        expected_type = spec.param("expected_content_type")
        if expected_type is not None:
            if content_type != media_type(str(expected_type)):
                return Observation(
                    status=FAILING,
                    value=content_type or "no content type",
                    numeric=float(code),
                    detail=f"{fetched.url} answered HTTP {code} with "
                    f"{content_type or 'no content type'}; expected {media_type(expected_type)}.",
                    url=fetched.url,
                )
        elif content_type in HTML_TYPES:
            return Observation(
                status=FAILING,
                value="HTML page",
                numeric=float(code),
                detail=f"{fetched.url} answered HTTP {code} with an HTML page (a sign-in or error "
                "page?), not a health answer. Set the expected content type if the page is it.",
                url=fetched.url,
            )
        expected_text = spec.param("expected_text")
        if expected_text is not None and str(expected_text) not in fetched.payload.get("text", ""):
            return Observation(
                status=FAILING,
                value="unexpected answer",
                numeric=float(code),
                detail=f"{fetched.url} answered without the expected text.",
                url=fetched.url,
            )
        return None


def _origin_of(url: str) -> str:
    try:
        scheme, host, port = outbound.origin(url)
    except outbound.InvalidURL:
        return "an unreadable address"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")
