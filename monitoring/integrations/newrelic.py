"""New Relic: an NRQL query through NerdGraph, its first value compared with a threshold."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from monitoring.integrations.base import (
    MISSING,
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
    dig,
    judge_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

REGIONS = {"us": "https://api.newrelic.com", "eu": "https://api.eu.newrelic.com"}
WEB = {"us": "https://one.newrelic.com", "eu": "https://one.eu.newrelic.com"}

# Variables keep the NRQL out of the GraphQL text, so quotes in it need no escaping.
QUERY = """query ($accountId: Int!, $nrql: Nrql!) {
  actor { account(id: $accountId) { nrql(query: $nrql) { results } } }
}"""


class NewRelicNrql(Adapter):
    kind = "newrelic"
    label = "New Relic"
    base_url_field = FieldSpec(
        "base_url", "NerdGraph URL", required=False, help="Derived from the region when empty."
    )
    config_fields = (
        FieldSpec("account_id", "Account id"),
        FieldSpec("region", "Region", required=False, help="us (default) or eu."),
    )
    secret_fields = (FieldSpec("api_key", "User API key (NRAK-…)", secret=True),)
    param_fields = (
        FieldSpec("nrql", "NRQL query"),
        FieldSpec(
            "field",
            "Result field",
            required=False,
            help="Key of the first result row to read; its only numeric value when empty.",
        ),
        FieldSpec("unit", "Unit shown after the value", required=False),
    )

    def _region(self, conn: Connection) -> str:
        region = str(conn.config.get("region") or "us").lower()
        if region not in REGIONS:
            raise ConfigError(f"Unknown New Relic region {region!r}; use us or eu.")
        return region

    def _account(self, conn: Connection) -> int:
        try:
            return int(conn.setting("account_id"))
        except ValueError:
            raise ConfigError("The New Relic account id must be a number.") from None

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        base = conn.url(REGIONS[self._region(conn)])
        return (self.kind, base, self._account(conn), spec.required("nrql"))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        region = self._region(conn)
        body = client.post_json(
            f"{conn.url(REGIONS[region])}/graphql",
            what="the New Relic NRQL query",
            headers={"API-Key": conn.secret("api_key")},
            json={
                "query": QUERY,
                "variables": {"accountId": self._account(conn), "nrql": spec.required("nrql")},
            },
        )
        if not isinstance(body, dict):
            raise BadResponse("The New Relic answer is not a JSON object.")
        # GraphQL reports errors next to (or instead of) data, usually with HTTP 200.
        if body.get("errors"):
            messages = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body["errors"]
            )
            raise IntegrationError(f"New Relic could not run the query: {messages}")
        try:
            results = body["data"]["actor"]["account"]["nrql"]["results"]
        except (KeyError, TypeError):
            raise BadResponse("The New Relic answer has no NRQL results.") from None
        if not isinstance(results, list):
            raise BadResponse("The New Relic answer has no NRQL results.")
        return Fetched(payload=results, url=WEB[region])

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        nrql = spec.required("nrql")
        rows = fetched.payload
        row: dict[str, Any] = rows[0] if rows and isinstance(rows[0], dict) else {}
        field = spec.param("field")
        if field is None:
            numeric = [k for k, v in row.items() if to_number(v) is not None]
            field = numeric[0] if len(numeric) == 1 else None
            if len(numeric) > 1:
                raise ConfigError(
                    f"The first row has several numbers ({', '.join(numeric)}); name the field."
                )
        value = dig(row, field) if field is not None else MISSING
        if value is MISSING or value is None:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no data",
                detail=f"The query returned no value: {nrql}",
                url=fetched.url,
            )
        return judge_number(
            to_number(value), spec, subject=str(field), url=fetched.url, unit=spec.param("unit", "")
        )
