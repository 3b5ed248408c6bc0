"""Datadog: a monitor's overall state, or a metric query compared with a threshold."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from urllib.parse import quote

from monitoring.integrations.base import (
    FAILING,
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
    Status,
    judge_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

DEFAULT_SITE = "datadoghq.com"
DEFAULT_WINDOW = 300
STATES: dict[str, Status] = {
    "OK": PASSING,
    "Alert": FAILING,
    "Warn": FAILING,
    "No Data": NEEDS_JUDGEMENT,
    "Unknown": NEEDS_JUDGEMENT,
    "Skipped": NEEDS_JUDGEMENT,
    "Ignored": NEEDS_JUDGEMENT,
}


def web_url(site: str) -> str:
    # The two original sites serve the app on app.<site>; the newer ones on the site itself.
    if site in {"datadoghq.com", "datadoghq.eu"}:
        return f"https://app.{site}"
    return f"https://{site}"


def last_point(series: dict[str, Any]) -> float | None:
    for point in reversed(series.get("pointlist") or []):
        value = to_number(point[1]) if isinstance(point, list) and len(point) > 1 else None
        if value is not None:
            return value
    return None


class DatadogMonitor(Adapter):
    kind = "datadog"
    label = "Datadog"
    base_url_field = FieldSpec(
        "base_url", "API URL", required=False, help="Derived from the site when empty."
    )
    config_fields = (
        FieldSpec("site", "Site", required=False, help="datadoghq.com (default), datadoghq.eu…"),
    )
    secret_fields = (
        FieldSpec("api_key", "API key", secret=True),
        FieldSpec("app_key", "Application key", secret=True),
    )
    param_fields = (
        FieldSpec("monitor_id", "Monitor id", required=False, help="Either a monitor id…"),
        FieldSpec("query", "Metric query", required=False, help="…or a metric query."),
        FieldSpec("window", "Query window in seconds", required=False, help="Default 300."),
        FieldSpec(
            "warn_fails", "A Warn state fails the check", required=False, help="Default yes."
        ),
        FieldSpec("unit", "Unit shown after the value", required=False),
    )

    def _mode(self, spec: CheckSpec) -> tuple[str, str]:
        if spec.param("monitor_id") is not None:
            return "monitor", str(spec.param("monitor_id"))
        if spec.param("query") is not None:
            return "query", str(spec.param("query"))
        raise ConfigError("The check needs a monitor id or a metric query.")

    def _window(self, spec: CheckSpec) -> int:
        try:
            return int(spec.param("window", DEFAULT_WINDOW))
        except (TypeError, ValueError):
            raise ConfigError("The query window must be a whole number of seconds.") from None

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        mode, subject = self._mode(spec)
        window = self._window(spec) if mode == "query" else None
        return (self.kind, self._api(conn), mode, subject, window)

    def _site(self, conn: Connection) -> str:
        return str(conn.config.get("site") or DEFAULT_SITE).strip()

    def _api(self, conn: Connection) -> str:
        return conn.url(f"https://api.{self._site(conn)}")

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        mode, subject = self._mode(spec)
        headers = {
            "DD-API-KEY": conn.secret("api_key"),
            "DD-APPLICATION-KEY": conn.secret("app_key"),
        }
        app = web_url(self._site(conn))
        if mode == "monitor":
            body = client.get_json(
                f"{self._api(conn)}/api/v1/monitor/{quote(subject, safe='')}",
                what=f"Datadog monitor {subject}",
                headers=headers,
                provider=self.kind,
            )
            if not isinstance(body, dict):
                raise BadResponse(f"The answer for Datadog monitor {subject} is not a monitor.")
            return Fetched(payload=("monitor", body), url=f"{app}/monitors/{subject}")

        now = int(client.now())
        body = client.get_json(
            f"{self._api(conn)}/api/v1/query",
            what="the Datadog metric query",
            headers=headers,
            params={"from": now - self._window(spec), "to": now, "query": subject},
            provider=self.kind,
        )
        if not isinstance(body, dict):
            raise BadResponse("The Datadog query answer is not a JSON object.")
        if body.get("status") != "ok":
            message = body.get("error") or body.get("message") or body.get("status")
            raise IntegrationError(f"Datadog could not run the query: {message}", permanent=True)
        return Fetched(payload=("query", body), url=f"{app}/metric/explorer")

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        mode, body = fetched.payload
        if mode == "monitor":
            return self._monitor(body, spec, fetched.url)
        unit = spec.param("unit", "")
        series = [s for s in body.get("series") or [] if isinstance(s, dict)]
        if not series:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no data",
                detail=f"The query returned no series: {body.get('query')}",
                url=fetched.url,
            )
        observations = [
            judge_number(
                last_point(s),
                spec,
                subject=str(s.get("scope") or s.get("expression") or s.get("metric")),
                url=fetched.url,
                unit=unit,
            )
            for s in series
        ]
        for status in (FAILING, NEEDS_JUDGEMENT):
            for observation in observations:
                if observation.status == status:
                    return observation
        return observations[0]

    def _monitor(self, monitor: dict[str, Any], spec: CheckSpec, url: str) -> Observation:
        state = str(monitor.get("overall_state"))
        status = STATES.get(state, NEEDS_JUDGEMENT)
        if state == "Warn" and not spec.flag("warn_fails", True):
            status = PASSING
        name = monitor.get("name") or f"Monitor {monitor.get('id')}"
        detail = f"{name} is {state}."
        if state not in STATES:
            detail = f"{name} has an unrecognised state {state!r}."
        return Observation(status=status, value=state, detail=detail, url=url)
