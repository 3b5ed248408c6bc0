"""Prometheus: an instant PromQL query whose value is compared with the check's threshold."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from monitoring.integrations.base import (
    FAILING,
    NEEDS_JUDGEMENT,
    Adapter,
    BadResponse,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    IntegrationError,
    Observation,
    judge_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

# Errors that the same query will hit again; the others (timeout, unavailable...) may pass.
PERMANENT_ERROR_TYPES = {"bad_data", "execution", "not_found"}


def series_name(metric: dict[str, Any]) -> str:
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{metric.get('__name__', '')}{{{labels}}}" if labels else metric.get("__name__", "")


class PrometheusQuery(Adapter):
    kind = "prometheus"
    label = "Prometheus"
    base_url_field = FieldSpec("base_url", "Prometheus URL")
    secret_fields = (
        FieldSpec("token", "Bearer token", required=False, secret=True),
        FieldSpec("username", "Basic auth user", required=False),
        FieldSpec("password", "Basic auth password", required=False, secret=True),
    )
    param_fields = (
        FieldSpec("query", "PromQL query (instant vector or scalar)"),
        FieldSpec("unit", "Unit shown after the value", required=False),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(), spec.required("query"))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        base, query = conn.url(), spec.required("query")
        headers, auth = {}, None
        if conn.secrets.get("token"):
            headers["Authorization"] = f"Bearer {conn.secrets['token']}"
        elif conn.secrets.get("username"):
            auth = (conn.secrets["username"], conn.secrets.get("password", ""))
        body = client.get_json(
            f"{base}/api/v1/query",
            what="the Prometheus query",
            params={"query": query},
            headers=headers,
            auth=auth,
        )
        if not isinstance(body, dict):
            raise BadResponse("The Prometheus answer is not a JSON object.")
        if body.get("status") != "success":
            error_type = str(body.get("errorType", "unknown"))
            message = f"Prometheus could not run the query ({error_type}): {body.get('error')}"
            raise IntegrationError(message, permanent=error_type in PERMANENT_ERROR_TYPES)
        url = f"{base}/graph?" + urlencode({"g0.expr": query, "g0.tab": "1"})
        return Fetched(payload=body.get("data"), url=url)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        data = fetched.payload
        if not isinstance(data, dict):
            raise BadResponse("The Prometheus answer has no data.")
        unit = spec.param("unit", "")
        query = spec.required("query")
        result_type = data.get("resultType")
        result: Any = data.get("result")
        if result_type == "scalar":
            return judge_number(
                to_number(result[1]), spec, subject=query, url=fetched.url, unit=unit
            )
        if result_type != "vector":
            raise ConfigError(
                f"The query returns a {result_type}; use one that returns a vector or a scalar."
            )
        if not result:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no data",
                detail=f"The query returned no series: {query}",
                url=fetched.url,
            )
        # Every series must pass; the first one that does not decides what people see.
        observations = [
            judge_number(
                to_number(sample["value"][1]),
                spec,
                subject=series_name(sample.get("metric") or {}) or query,
                url=fetched.url,
                unit=unit,
            )
            for sample in result
        ]
        for status in (FAILING, NEEDS_JUDGEMENT):
            worst = [o for o in observations if o.status == status]
            if worst:
                if len(observations) > 1:
                    extra = f" ({len(worst)} of {len(observations)} series)"
                    return replace(worst[0], detail=worst[0].detail + extra)
                return worst[0]
        if len(observations) > 1:
            first = observations[0]
            return replace(first, detail=f"All {len(observations)} series pass. {first.detail}")
        return observations[0]
