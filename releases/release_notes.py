"""Release notes in Markdown, generated from the scope.

Grouped by kind, with tracker keys and links; known risks and limitations are listed because
people reading the notes need them most; items added after the scope freeze are marked, so a late
addition is never silent.
"""

from __future__ import annotations

import re

from lib.links import http_url
from lib.wording import plural
from releases.models import Release, ScopeItem, Status

SECTIONS = [
    (ScopeItem.Kind.FEATURE, "Features"),
    (ScopeItem.Kind.FIX, "Fixes"),
    (ScopeItem.Kind.DEPENDENCY, "Dependencies"),
    (ScopeItem.Kind.RISK, "Known risks"),
    (ScopeItem.Kind.LIMITATION, "Known limitations"),
]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def escape(text: str) -> str:
    """Escape what Markdown would otherwise read as formatting in a user-written title."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.strip())


def _line(item: ScopeItem) -> str:
    label = escape(item.key) if item.key else ""
    # Only http(s) becomes a link, whatever an old row holds; "<" and ">" would end the
    # destination early, and a URL never needs them unescaped.
    url = http_url(item.url).replace("<", "%3C").replace(">", "%3E")
    if label and url:
        label = f"[{label}](<{url}>)"
    elif url:
        label = f"[link](<{url}>)"
    parts = [f"- {label + ' ' if label else ''}{escape(item.title)}"]
    notes = []
    if item.kind in (ScopeItem.Kind.RISK, ScopeItem.Kind.DEPENDENCY) or item.risk in (
        ScopeItem.Risk.HIGH,
        ScopeItem.Risk.BLOCKER,
    ):
        notes.append(f"{item.get_risk_display().lower()} risk")
    if item.resolved_at:
        notes.append(f"resolved: {escape(item.resolution)}")
    if item.added_after_freeze:
        notes.append("**added after the scope freeze**")
    if notes:
        parts.append(f" ({'; '.join(notes)})")
    return "".join(parts)


def render_release_notes(release: Release) -> str:
    items = list(release.scope_items.all())
    included = [i for i in items if i.state == ScopeItem.State.INCLUDED]
    deferred = [i for i in items if i.state == ScopeItem.State.DEFERRED]

    title = f"# {escape(release.project.name)} {escape(release.version)}"
    if release.title:
        title += f" — {escape(release.title)}"
    facts = [f"{release.get_kind_display()} release to {escape(release.environment)}"]
    if release.git_ref:
        facts.append(f"`{release.git_ref}`")
    if release.commit_sha:
        facts.append(f"commit `{release.commit_sha[:12]}`")
    deployed = release.deploy_finished_at or release.deploy_started_at
    if deployed:
        facts.append(f"deployed {deployed:%Y-%m-%d %H:%M} UTC")
    elif release.deploy_window_start:
        facts.append(f"planned for {release.deploy_window_start:%Y-%m-%d %H:%M} UTC")
    lines = [title, "", " · ".join(facts)]
    if release.status == Status.ROLLED_BACK:
        rolled_back = release.rollback_finished_at or release.rolled_back_at
        when = f" {rolled_back:%Y-%m-%d %H:%M} UTC" if rolled_back else ""
        lines += ["", f"> Rolled back{when}: none of this is live."]

    late = sum(1 for i in included if i.added_after_freeze)
    if late:
        lines += [
            "",
            f"> {plural(late, 'item', 'was')} added after the scope freeze, "
            "through an accepted change request.",
        ]

    for kind, heading in SECTIONS:
        section = [i for i in included if i.kind == kind]
        if section:
            lines += ["", f"## {heading}", ""] + [_line(i) for i in section]
    if not included:
        lines += ["", "Nothing is in scope yet."]
    if deferred:
        lines += ["", "## Deferred to a later release", ""] + [_line(i) for i in deferred]
    return "\n".join(lines) + "\n"
