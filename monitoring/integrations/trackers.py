"""What the issue trackers (Jira, ClickUp, Trello) have in common: the items a scope is
imported from, how their issue types or labels become scope kinds, and the not-done check.

A tracker adapter is an :class:`~monitoring.integrations.base.Adapter` (its check counts the
items of a source that are not done: none may be, by default) that can also list the items of a
source — a Jira fixVersion or JQL search, a ClickUp list, tag or view, a Trello list or label —
for the scope import. ``items()`` raises :class:`IntegrationError` for every failure, like
``fetch()``: an import that cannot read the tracker changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from monitoring.integrations.base import (
    Adapter,
    CheckSpec,
    ConfigError,
    Connection,
    Fetched,
    FieldSpec,
    Observation,
    judge_number,
)
from monitoring.integrations.http import HttpClient

# The scope kinds of releases.ScopeItem.Kind, by the words trackers use for them.
KIND_WORDS: dict[str, str] = {
    "bug": "fix",
    "defect": "fix",
    "fix": "fix",
    "hotfix": "fix",
    "dependency": "dependency",
    "risk": "risk",
    "limitation": "limitation",
    "known issue": "limitation",
}
KINDS = ("feature", "fix", "dependency", "risk", "limitation")
KIND_MAP_FIELD = FieldSpec(
    "kind_map",
    "Issue types or labels → scope kinds",
    required=False,
    help="e.g. “Bug=fix, Spike=risk”. Bug and defect are fixes, everything else a feature, "
    "unless listed here.",
)

# A tracker key in a commit title or branch name: PAY-123, or a ClickUp CU-86a1b2c3d.
KEY_PATTERN = re.compile(r"\b([A-Za-z][A-Za-z0-9]{1,9}-[0-9A-Za-z]*[0-9][0-9A-Za-z]*)\b")


@dataclass(frozen=True)
class TrackerItem:
    """One issue, task or card as a scope item needs it."""

    external_id: str
    key: str
    title: str
    url: str = ""
    # The issue type and labels, in the tracker's words (mapped to a kind by ``kind_for``).
    types: tuple[str, ...] = ()
    status: str = ""
    # None: the tracker did not say (counts as not done).
    done: bool | None = None
    owner_email: str = ""
    # Jira: the fixVersions an issue carries, as (id, name) pairs.
    versions: tuple[tuple[str, str], ...] = ()


def parse_kind_map(raw: str | None) -> dict[str, str]:
    """``"Bug=fix, Spike=risk"`` → ``{"bug": "fix", "spike": "risk"}``; raises ConfigError."""
    mapping: dict[str, str] = {}
    for part in (raw or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, kind = part.partition("=")
        kind = kind.strip().lower()
        if not sep or not name.strip() or kind not in KINDS:
            raise ConfigError(
                f"The kind map entry {part.strip()!r} is not “type=kind” with one of "
                f"{', '.join(KINDS)}."
            )
        mapping[name.strip().lower()] = kind
    return mapping


def kind_for(types: Iterable[str], kind_map: Mapping[str, str]) -> str:
    """The scope kind of an item: the integration's map first, then the usual words."""
    names = [t.strip().lower() for t in types if t and t.strip()]
    for name in names:
        if name in kind_map:
            return kind_map[name]
    for name in names:
        if name in KIND_WORDS:
            return KIND_WORDS[name]
    return "feature"


def keys_in(text: str) -> set[str]:
    """The tracker keys written in a commit title or branch name, upper-cased."""
    return {match.upper() for match in KEY_PATTERN.findall(text or "")}


class TrackerAdapter(Adapter):
    """An issue tracker: a check on the items of a source, and the items themselves."""

    # (value, label) of the sources a scope can be imported from.
    sources: ClassVar[tuple[tuple[str, str], ...]] = ()
    noun: ClassVar[str] = "item"

    def items(
        self, conn: Connection, source: str, query: str, client: HttpClient
    ) -> list[TrackerItem]:
        raise NotImplementedError

    def check_source(self, spec: CheckSpec) -> tuple[str, str]:
        source = spec.required("source")
        if source not in dict(self.sources):
            raise ConfigError(
                f"Unknown source {source!r}; use one of {', '.join(dict(self.sources))}."
            )
        return source, spec.required("query").replace("{version}", spec.version)

    # --- the check: how many items of the source are not done -------------------------------

    def request_key(self, conn: Connection, spec: CheckSpec) -> Hashable:
        return (self.kind, conn.url(self.default_base_url), *self.check_source(spec))

    def fetch(
        self, conn: Connection, spec: CheckSpec, client: HttpClient, *, etag: str | None = None
    ) -> Fetched:
        source, query = self.check_source(spec)
        return Fetched(payload=self.items(conn, source, query, client))

    def evaluate(self, fetched: Fetched, spec: CheckSpec) -> Observation:
        open_items = [item for item in fetched.payload if item.done is not True]
        listed = ", ".join(f"{i.key} {i.title}".strip() for i in open_items[:10])
        count = len(open_items)
        observation = judge_number(
            float(count),
            spec,
            subject=f"the number of {self.noun}s not done",
            comparator="lte",
            threshold=0,
            extra=f"Not done: {listed}." if listed else "",
        )
        plural = "s" if count != 1 else ""
        return Observation(
            status=observation.status,
            value=f"{count} {self.noun}{plural} not done",
            numeric=float(count),
            detail=observation.detail,
        )
