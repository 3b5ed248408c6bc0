"""Plain HTTP health: a URL's status code and, optionally, one field of its JSON body."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

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


def resolve_url(conn: Connection, spec: CheckSpec) -> str:
    url = spec.required("url")
    if url.startswith(("http://", "https://")):
        return url
    if not conn.base_url:
        raise ConfigError(f"The URL {url!r} is relative and the integration has no base URL.")
    return f"{conn.url()}/{url.lstrip('/')}"


def auth_headers(conn: Connection) -> dict[str, str]:
    token = conn.secrets.get("token")
    return {"Authorization": f"Bearer {token}"} if token else {}


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


class HttpHealth(Adapter):
    kind = "http_health"
    label = "HTTP health endpoint"
    base_url_field = FieldSpec("base_url", "Base URL", required=False)
    secret_fields = (FieldSpec("token", "Bearer token", required=False, secret=True),)
    param_fields = (
        FieldSpec("url", "URL", help="Absolute, or relative to the integration's base URL."),
        FieldSpec(
            "expected_status", "Expected status code", required=False, help="Any 2xx when empty."
        ),
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
        # failures (timeouts, refused connections) raise.
        response = client.get(
            url, what=url, headers=auth_headers(conn), check_status=False, follow_redirects=True
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
                client.raise_for_status(response, what=url)
            except IntegrationError as exc:
                error = exc
        payload = {"status_code": response.status_code, "json": body, "error": error}
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
