"""What the feature-flag adapters share: a flag's state per environment, the three conditions a
check can ask of it, and the kill switch.

A flag adapter reads one flag in every environment of the integration (``fetch``) and turns it
into ``{environment: FlagState}``; ``judge`` then answers the check's condition:

- ``exists``: the flag is defined (and not archived) in every environment;
- ``off``: the flag serves nothing new in the environment (off, or killed) — before a deploy;
- ``on``: the flag is on for at least ``percent`` % of the traffic in the environment — after it.

Fail closed: an environment missing from the answer is "not defined there", an unknown rollout
counts as 0 %, and a condition the adapter does not know is a misconfigured check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from monitoring.integrations.base import (
    FAILING,
    PASSING,
    Adapter,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    format_number,
    to_number,
)
from monitoring.integrations.http import HttpClient

CONDITIONS = {
    "exists": "exists in every environment",
    "off": "is off",
    "on": "is on",
}
PARAM_FIELDS = (
    FieldSpec("flag", "Flag key"),
    FieldSpec(
        "condition",
        "Condition",
        help="exists (defined in every environment), off (before the deploy) or on (after it).",
    ),
    FieldSpec(
        "environment",
        "Environment",
        required=False,
        help="For off and on; the integration's production environment when empty.",
    ),
    FieldSpec(
        "percent", "At least this % of traffic", required=False, help="For on; 100 when empty."
    ),
)


@dataclass(frozen=True)
class FlagState:
    """One flag in one environment. ``percent`` is the share of traffic served the new
    behaviour (0 when off or killed)."""

    exists: bool
    on: bool = False
    percent: float = 0.0
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> FlagState:
        if not isinstance(data, Mapping):
            return cls(exists=False, detail="never read")
        return cls(
            exists=bool(data.get("exists")),
            on=bool(data.get("on")),
            percent=float(to_number(data.get("percent")) or 0.0),
            detail=str(data.get("detail") or ""),
        )

    def describe(self) -> str:
        if not self.exists:
            return "not defined"
        if not self.on:
            return "off"
        return f"on for {format_number(self.percent)} %"


def configured_environments(conn: Connection, default: str = "production") -> list[str]:
    """The environments named in the integration's settings, production among them; empty
    when none are named."""
    names = [e.strip() for e in str(conn.config.get("environments") or "").split(",")]
    names = [name for name in names if name]
    if not names:
        return []
    production = production_environment(conn, default)
    return names if production in names else [*names, production]


def production_environment(conn: Connection, default: str = "production") -> str:
    return str(conn.config.get("production_environment") or default).strip()


def _percent(spec: CheckSpec) -> float:
    raw = spec.param("percent")
    if raw is None:
        return 100.0
    value = to_number(raw)
    if value is None or not 0 <= value <= 100:
        raise ConfigError("The percentage must be a number from 0 to 100.")
    return value


def judge(
    states: Mapping[str, FlagState], spec: CheckSpec, *, production: str, url: str
) -> Observation:
    flag = spec.required("flag")
    condition = spec.required("condition")
    if condition not in CONDITIONS:
        raise ConfigError(f"Unknown condition {condition!r}; use exists, off or on.")
    if condition == "exists":
        # The adapter puts every environment it knows of in ``states``, defined there or not.
        missing = [env for env, state in states.items() if not state.exists]
        if missing or not states:
            return Observation(
                status=FAILING,
                value=f"missing in {len(missing)}" if missing else "no environments",
                numeric=float(len(missing)),
                detail=f"Flag {flag} is not defined in {', '.join(missing)}."
                if missing
                else "The integration names no environment to look in.",
                url=url,
            )
        return Observation(
            status=PASSING,
            value="in every environment",
            numeric=0.0,
            detail=f"Flag {flag} is defined in {', '.join(states)}.",
            url=url,
        )
    environment = str(spec.param("environment") or production)
    state = states.get(environment, FlagState(False))
    seen = f"Flag {flag} in {environment} is {state.describe()}"
    if not state.exists:
        return Observation(status=FAILING, value="not defined", detail=seen + ".", url=url)
    if condition == "off":
        ok = not state.on
        return Observation(
            status=PASSING if ok else FAILING,
            value=state.describe(),
            numeric=state.percent,
            detail=seen + ("." if ok else "; it must be off before the deploy."),
            url=url,
        )
    wanted = _percent(spec)
    ok = state.on and state.percent >= wanted
    return Observation(
        status=PASSING if ok else FAILING,
        value=state.describe(),
        numeric=state.percent,
        detail=f"{seen}; it must be on for at least {format_number(wanted)} %.",
        url=url,
    )


class FlagAdapter(Adapter):
    """An adapter whose payload is ``{"states": {env: FlagState}}`` and that can switch a flag
    off in one environment."""

    # The production environment's name when the integration does not set one.
    production_default: ClassVar[str] = "production"
    param_fields = PARAM_FIELDS

    def production(self, conn: Connection) -> str:
        return production_environment(conn, self.production_default)

    def fetched(self, states: Mapping[str, FlagState], conn: Connection, url: str) -> Fetched:
        return Fetched(
            payload={"states": dict(states), "production": self.production(conn)}, url=url
        )

    def read(self, conn: Connection, flag: str, client: HttpClient) -> Fetched:
        """The flag's state in every environment of the integration."""
        raise NotImplementedError

    def turn_off(
        self, conn: Connection, flag: str, *, environment: str, comment: str, client: HttpClient
    ) -> str:
        """Switch the flag off in ``environment``; returns what the provider said, in words.
        Raises ``IntegrationError`` for every failure: nothing is assumed switched off."""
        raise NotImplementedError

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        return self.read(conn, spec.required("flag"), client)

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        payload = fetched.payload
        return judge(payload["states"], spec, production=payload["production"], url=fetched.url)
