"""The one interface every integration adapter implements, and its value types.

An adapter turns what a provider's HTTP API says into an :class:`Observation` for one check. It
does it in two steps so that the poller can fetch each (integration, request) once per cycle and
evaluate many checks against the answer:

``request_key(conn, spec) -> Hashable``
    Checks whose keys are equal (for the same connection) are answered by one HTTP fetch. The key
    holds everything that changes the request (repository, SHA, query...) and nothing that only
    changes how the answer is judged (a check name filter, a threshold). It raises
    :class:`ConfigError` when a required setting is missing; group with :func:`group_key`,
    which never raises.

``fetch(conn, spec, client, *, etag=None) -> Fetched``
    Does the HTTP through :class:`monitoring.integrations.http.HttpClient` and returns the payload,
    a link for people, and the new ETag where the provider supports conditional requests (GitHub).
    Raises :class:`IntegrationError` for every failure it can foresee.

``evaluate(fetched, spec) -> Observation``
    Pure: no I/O, no clock. Judges the payload for one check.

:func:`observe_group` is what callers use. It fetches once for a group of specs that share a
request key and returns one :class:`Observation` per spec, in order. It does not raise for
expected failures: an HTTP error, a timeout, bad credentials, malformed JSON or a misconfigured
check each become an Observation with ``status == "error"``, ``permanent`` saying whether trying
again can help and ``retry_after`` saying when the provider asked to be called again.

Fail closed: no data, unknown status strings, malformed JSON, HTTP errors and timeouts never
become ``passing``. ``needs_judgement`` means the adapter cannot decide (no data, an inconclusive
state) and a person has to look.

Conditional requests and "unchanged"
------------------------------------
Every Observation carries ``etag``: store it with the check and pass it back as ``etag`` on the
next cycle. When the provider answers ``304 Not Modified``, every Observation of the group has
``unchanged=True``: the caller must keep each check's previous status, value and detail and only
note that it was checked. (Its ``status`` is ``pending`` so that a caller that ignores the flag
still does not report a pass.) Pass an ETag only when every check in the group stored that same
ETag from the last fetch; otherwise pass ``None``, because a 304 keeps every check's previous
result and a check that has none would be left without one.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lib.links import http_url

if TYPE_CHECKING:
    from monitoring.integrations.http import HttpClient

logger = logging.getLogger(__name__)

Status = Literal["passing", "failing", "pending", "error", "needs_judgement"]
PASSING: Status = "passing"
FAILING: Status = "failing"
PENDING: Status = "pending"
ERROR: Status = "error"
NEEDS_JUDGEMENT: Status = "needs_judgement"

COMPARATORS: dict[str, str] = {
    "lt": "below",
    "lte": "at most",
    "gt": "above",
    "gte": "at least",
    "eq": "equal to",
    "ne": "not equal to",
}


# --- errors -------------------------------------------------------------------------------------


class IntegrationError(Exception):
    """A failure to observe. ``permanent`` means trying again without a change will not help."""

    label: ClassVar[str] = "error"

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class ConfigError(IntegrationError):
    """The integration or check is missing a setting, or has one the adapter cannot use."""

    label = "misconfigured"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class AuthError(IntegrationError):
    """401/403: the credentials are wrong or do not give access."""

    label = "no access"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class NotFound(IntegrationError):
    label = "not found"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class BadRequest(IntegrationError):
    """Another 4xx: the provider refused what we asked (a bad query, an unsupported option)."""

    label = "rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class DestinationRefused(IntegrationError):
    """The URL points where the egress policy does not let Greenlight connect (lib.outbound)."""

    label = "refused destination"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class RateLimited(IntegrationError):
    label = "rate limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, permanent=False, retry_after=retry_after)


class Unavailable(IntegrationError):
    """5xx, timeouts and connection failures: worth trying again later."""

    label = "unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class BadResponse(IntegrationError):
    """The provider answered, but not with something we can read (invalid JSON, odd shape)."""

    label = "unreadable response"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


# --- value types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """An Integration as an adapter sees it."""

    kind: str
    base_url: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    # Decrypted credentials: kept out of repr() so they never reach a log line or a traceback.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    def setting(self, name: str) -> str:
        """A required, non-empty config value, as a string."""
        value = self.config.get(name)
        if value is None or str(value).strip() == "":
            raise ConfigError(f"The integration has no {name!r} setting.")
        return str(value).strip()

    def secret(self, name: str) -> str:
        value = self.secrets.get(name, "")
        if not value:
            raise ConfigError(f"The integration has no {name!r} credential.")
        return value

    def url(self, default: str = "") -> str:
        base = (self.base_url or default).strip().rstrip("/")
        if not base:
            raise ConfigError("The integration has no base URL.")
        return base


@dataclass(frozen=True)
class CheckSpec:
    """A Check as an adapter sees it, with the release it is evaluated for."""

    params: Mapping[str, Any] = field(default_factory=dict)
    comparator: str | None = None
    threshold: float | None = None
    ref: str = ""
    sha: str = ""
    version: str = ""
    environment: str = ""

    def param(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return default
        return value.strip() if isinstance(value, str) else value

    def required(self, name: str) -> str:
        value = self.param(name)
        if value is None:
            raise ConfigError(f"The check has no {name!r} parameter.")
        return str(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.param(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.lower() in {"1", "true", "yes", "on"}
        return bool(value)


@dataclass(frozen=True)
class Observation:
    status: Status
    value: str = ""
    numeric: float | None = None
    detail: str = ""
    url: str = ""
    # For errors: whether trying again without a change can help, and when the provider asked
    # to be called again (seconds).
    permanent: bool = False
    retry_after: float | None = None
    # The provider said 304 Not Modified: keep the previous result (see the module docstring).
    unchanged: bool = False
    # Store with the check and send back on the next fetch.
    etag: str | None = None
    # The provider's own facts behind the result: what orders it against other reports.
    evidence: Evidence | None = None

    def __post_init__(self) -> None:
        # The link comes from a provider's answer or a webhook and is drawn as a link on pages:
        # anything but http(s) is dropped here, where every source of results passes.
        if self.url:
            object.__setattr__(self, "url", http_url(self.url))

    @classmethod
    def from_error(cls, exc: IntegrationError) -> Observation:
        return cls(
            status=ERROR,
            value=exc.label,
            detail=exc.message,
            permanent=exc.permanent,
            retry_after=exc.retry_after,
        )


def provider_time(raw: Any) -> dt.datetime | None:
    """A provider's ISO 8601 timestamp (``2019-05-15T15:21:12Z``) as an aware datetime."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Evidence:
    """Where a result came from in the provider's own terms: which run (``check_run:42``,
    ``status:7``), which attempt of it, whether it had finished and the provider's time of it.

    Deliveries can be replayed, reordered or late, so results are ordered by these facts and
    never by when they reached us.
    """

    run: str = ""
    at: dt.datetime | None = None
    attempt: int = 1
    done: bool = False

    def is_newer_than(self, other: Evidence | None) -> bool:
        """Whether this says something ``other`` did not already know. Ties are not newer: a
        copy of what is known must change nothing."""
        if other is None:
            return True
        if self.run and self.run == other.run:
            if self.attempt != other.attempt:
                return self.attempt > other.attempt
            # A run does not go back from finished to running within one attempt.
            if self.done != other.done:
                return self.done
        if self.at is None or other.at is None:
            # Without the provider's time nothing can be ordered.
            return False
        if self.at != other.at:
            return self.at > other.at
        same_kind = self.run.partition(":")[0] == other.run.partition(":")[0]
        return same_kind and run_number(self.run) > run_number(other.run)

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "at": self.at.isoformat() if self.at else None,
            "attempt": self.attempt,
            "done": self.done,
        }

    @classmethod
    def from_json(cls, data: Any) -> Evidence | None:
        if not isinstance(data, Mapping) or not data.get("run"):
            return None
        return cls(
            run=str(data["run"]),
            at=provider_time(data.get("at")),
            attempt=int(data.get("attempt") or 1),
            done=bool(data.get("done")),
        )


def run_number(run: str) -> int:
    """The numeric id in ``kind:id``; a provider's ids grow, so a larger one is a later run."""
    tail = run.rpartition(":")[2]
    return int(tail) if tail.isdigit() else -1


@dataclass(frozen=True)
class Fetched:
    """What one fetch brought back, shared by every check of its group."""

    payload: Any = None
    url: str = ""
    etag: str | None = None
    not_modified: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """One setting a form has to ask for."""

    name: str
    label: str
    required: bool = True
    secret: bool = False
    help: str = ""


# --- the interface ------------------------------------------------------------------------------


class Adapter:
    """Base class of the adapters: one subclass per integration kind, stateless.

    The ``*_field(s)`` attributes describe what a form has to ask for: ``base_url_field`` for
    ``Connection.base_url`` (None when the kind has no use for one), ``config_fields`` for
    ``Connection.config``, ``secret_fields`` for ``Connection.secrets`` and ``param_fields``
    for ``CheckSpec.params``.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    base_url_field: ClassVar[FieldSpec | None] = None
    config_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    secret_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    param_fields: ClassVar[tuple[FieldSpec, ...]] = ()

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        raise NotImplementedError

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        raise NotImplementedError

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        raise NotImplementedError


def group_key(adapter: Adapter, conn: Connection, spec: CheckSpec) -> Hashable:
    """``adapter.request_key()`` for grouping, except that it never raises.

    A check too misconfigured to have a key gets a key of its own, so it forms a group of one
    and :func:`observe_group` reports why as an error.
    """
    try:
        return adapter.request_key(conn, spec)
    except IntegrationError:
        return ("misconfigured", object())


# Shapes a provider can surprise us with while an adapter reads its payload. Adapters check the
# shapes they rely on; this is the net under them so that an odd answer is an error, not a crash.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def observe_group(
    adapter: Adapter,
    conn: Connection,
    specs: Sequence[CheckSpec],
    client: HttpClient,
    etag: str | None = None,
) -> list[Observation]:
    """Fetch once for ``specs`` (which must share a request key) and observe each of them."""
    if not specs:
        return []
    try:
        keys = {adapter.request_key(conn, spec) for spec in specs}
    except IntegrationError as exc:
        return [Observation.from_error(exc)] * len(specs)
    if len(keys) > 1:
        raise ValueError(f"observe_group() needs specs with one request key, got {len(keys)}")

    try:
        fetched = adapter.fetch(conn, specs[0], client, etag=etag)
    except IntegrationError as exc:
        return [Observation.from_error(exc)] * len(specs)
    except _SHAPE_ERRORS as exc:
        logger.warning("%s: unexpected response shape (%r)", adapter.kind, exc)
        error = BadResponse(f"{adapter.label} answered with data in an unexpected shape.")
        return [Observation.from_error(error)] * len(specs)

    if fetched.not_modified:
        unchanged = Observation(
            status=PENDING,
            value="unchanged",
            detail="Not modified since the last check; the previous result still holds.",
            url=fetched.url,
            unchanged=True,
            etag=fetched.etag,
        )
        return [unchanged] * len(specs)

    observations = []
    for spec in specs:
        try:
            observation = adapter.evaluate(fetched, spec)
        except IntegrationError as exc:
            observation = Observation.from_error(exc)
        except _SHAPE_ERRORS as exc:
            logger.warning("%s: unexpected response shape (%r)", adapter.kind, exc)
            error = BadResponse(f"{adapter.label} answered with data in an unexpected shape.")
            observation = Observation.from_error(error)
        observations.append(
            replace(observation, etag=fetched.etag, url=observation.url or fetched.url)
        )
    return observations


# --- shared judging helpers ---------------------------------------------------------------------


def compare(value: float, comparator: str, threshold: float) -> bool:
    """Whether ``value <comparator> threshold`` holds: the comparator states the passing case."""
    match comparator:
        case "lt":
            return value < threshold
        case "lte":
            return value <= threshold or math.isclose(value, threshold)
        case "gt":
            return value > threshold
        case "gte":
            return value >= threshold or math.isclose(value, threshold)
        case "eq":
            return math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
        case "ne":
            return not math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
    raise ConfigError(f"Unknown comparator {comparator!r}; use one of {', '.join(COMPARATORS)}.")


def format_number(value: float) -> str:
    """``3`` for 3.0, ``0.42`` for 0.42, at most four decimals."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) < 0.001:
        return f"{value:.3g}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def with_unit(value: float, unit: str = "") -> str:
    return f"{format_number(value)} {unit}" if unit else format_number(value)


def judge_number(
    numeric: float | None,
    spec: CheckSpec,
    *,
    subject: str,
    url: str = "",
    unit: str = "",
    comparator: str | None = None,
    threshold: float | None = None,
    extra: str = "",
) -> Observation:
    """The one place a number meets a comparator and a threshold.

    ``comparator``/``threshold`` are defaults for when the check does not set them. A missing
    comparator or threshold is a misconfigured check; a missing or NaN number cannot be judged.
    """
    comparator = spec.comparator or comparator
    threshold = spec.threshold if spec.threshold is not None else threshold
    if comparator is None or threshold is None:
        raise ConfigError("The check needs a comparator and a threshold.")
    # Thresholds may arrive as Decimal from a model field; judge them as floats.
    threshold = float(threshold)
    if comparator not in COMPARATORS:
        raise ConfigError(
            f"Unknown comparator {comparator!r}; use one of {', '.join(COMPARATORS)}."
        )
    rule = f"must be {COMPARATORS[comparator]} {with_unit(threshold, unit)}"
    if numeric is None or math.isnan(numeric):
        return Observation(
            status=NEEDS_JUDGEMENT,
            value="no data",
            detail=f"No value for {subject}; it {rule}. {extra}".strip(),
            url=url,
        )
    ok = compare(numeric, comparator, threshold)
    return Observation(
        status=PASSING if ok else FAILING,
        value=with_unit(numeric, unit),
        numeric=numeric,
        detail=f"{subject} is {with_unit(numeric, unit)}; it {rule}. {extra}".strip(),
        url=url,
    )


def to_number(raw: Any) -> float | None:
    """A float from a JSON number or numeric string; None when there is none (bools excluded)."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


MISSING: Any = object()


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``checks.0.state``); ``MISSING`` when there is none.

    Keys may contain dots themselves (New Relic names results ``percentile.duration``): at each
    level the longest run of parts that is a key wins.
    """
    parts = path.split(".")
    current, i = data, 0
    while i < len(parts):
        if isinstance(current, Mapping):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in current:
                    current, i = current[key], j
                    break
            else:
                return MISSING
        elif isinstance(current, list) and parts[i].lstrip("-").isdigit():
            index = int(parts[i])
            if not -len(current) <= index < len(current):
                return MISSING
            current, i = current[index], i + 1
        else:
            return MISSING
    return current


# Outcome of one run (a GitHub check run, a CircleCI workflow) before they are combined.
RunOutcome = Literal["ok", "failed", "running", "unknown"]


def combine_runs(
    runs: Sequence[tuple[str, RunOutcome, str]],
    *,
    noun: str,
    url: str,
    none_detail: str,
) -> Observation:
    """One Observation from many runs given as ``(name, outcome, raw state)``.

    Failed beats unknown beats running beats ok, and no runs at all is pending: an empty list
    means nothing has reported yet, never that everything passed.
    """
    total = len(runs)
    if total == 0:
        return Observation(status=PENDING, value=f"no {noun}s yet", detail=none_detail, url=url)

    def names(outcome: RunOutcome) -> list[str]:
        return [f"{name} ({raw})" for name, o, raw in runs if o == outcome]

    failed, unknown, running = names("failed"), names("unknown"), names("running")
    ok = sum(1 for _, outcome, _ in runs if outcome == "ok")
    plural = f"{noun}s" if total != 1 else noun
    if failed:
        return Observation(
            status=FAILING,
            value=f"{len(failed)} of {total} {plural} failed",
            numeric=float(len(failed)),
            detail="Failed: " + ", ".join(failed[:10]),
            url=url,
        )
    if unknown:
        return Observation(
            status=NEEDS_JUDGEMENT,
            value=f"{len(unknown)} of {total} {plural} neither passed nor failed",
            detail="Neither passed nor failed: " + ", ".join(unknown[:10]),
            url=url,
        )
    if running:
        return Observation(
            status=PENDING,
            value=f"{len(running)} of {total} {plural} not finished",
            detail="Not finished: " + ", ".join(running[:10]),
            url=url,
        )
    return Observation(
        status=PASSING,
        value=f"{ok} of {total} {plural} succeeded",
        numeric=0.0,
        detail=f"All {total} {plural} finished without failure.",
        url=url,
    )
