"""Environment parity: one JSON field read from staging and production must be equal."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from monitoring.integrations.base import (
    FAILING,
    MISSING,
    NEEDS_JUDGEMENT,
    PASSING,
    Adapter,
    CheckSpec,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    dig,
)
from monitoring.integrations.http import HttpClient, json_of
from monitoring.integrations.http_health import auth_headers, is_plain, show

ENVIRONMENTS = ("staging", "production")


class EnvironmentParity(Adapter):
    kind = "parity"
    label = "Environment parity"
    # The token goes only to this origin (see http_health.auth_headers): the two URLs are typed
    # into the check, and a token sent wherever they point could be collected there.
    base_url_field = FieldSpec(
        "base_url",
        "Base URL",
        required=False,
        help="The bearer token is sent only to URLs on this origin.",
    )
    secret_fields = (FieldSpec("token", "Bearer token", required=False, secret=True),)
    param_fields = (
        FieldSpec("staging_url", "Staging URL"),
        FieldSpec("production_url", "Production URL"),
        FieldSpec("json_field", "JSON field (dotted path)", help="e.g. version or build.sha"),
    )

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, spec.required("staging_url"), spec.required("production_url"))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        bodies: dict[str, Any] = {}
        for environment in ENVIRONMENTS:
            url = spec.required(f"{environment}_url")
            response = client.get(
                url,
                what=f"the {environment} endpoint",
                headers=auth_headers(conn, url),
                follow_redirects=True,
            )
            bodies[environment] = json_of(response, what=f"the {environment} endpoint")
        return Fetched(payload=bodies, url=spec.required("production_url"))

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        path = spec.required("json_field")
        values = {env: dig(fetched.payload[env], path) for env in ENVIRONMENTS}
        staging, production = values["staging"], values["production"]
        both = f"staging: {show_value(staging)}, production: {show_value(production)}"
        missing = [env for env, value in values.items() if value is MISSING or value is None]
        if missing:
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="no value",
                detail=f"No {path!r} on {' and '.join(missing)} ({both}).",
                url=fetched.url,
            )
        if not (is_plain(staging) and is_plain(production)):
            # The URLs are typed into the check and every member reads it: what they answer is
            # shown only as the short single value the check was meant to read.
            return Observation(
                status=NEEDS_JUDGEMENT,
                value="not a single value",
                detail=f"{path} is not a short single value on both; point the check at one.",
                url=fetched.url,
            )
        if staging == production:
            return Observation(
                status=PASSING,
                value=show(production),
                detail=f"{path} is {show(production)!r} on both.",
                url=fetched.url,
            )
        return Observation(
            status=FAILING,
            value="different",
            detail=f"{path} differs: {both}.",
            url=fetched.url,
        )


def show_value(value: Any) -> str:
    return "missing" if value is MISSING or value is None else repr(show(value))
