"""What Greenlight's Slack messages and modals show (Block Kit), built from the same readiness
the release page shows. Pure functions of rows already loaded: no writes, no network.

A button's value names the release and the version of what it approves
(:func:`content_version`); a press after that changed is refused, so a button left in an old
message cannot approve what has changed since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from approvals.models import Decision, SignOff
from approvals.readiness import Readiness, compute_readiness, policy_for, with_readiness_data
from approvals.services.sign_offs import SIGNABLE_STATUSES
from chat.models import ApprovedContent
from lib.links import absolute
from monitoring.models import Check, CheckStatus
from releases.access import access_for
from releases.models import Release, Role, Status

# action_id of each button; the modals' callback_id are the same names.
GO = "sign_go"
NO_GO = "sign_no_go"
RECORD_GO = "record_go"
RECORD_NO_GO = "record_no_go"
JUDGE = "judge_check"
# The one input of every modal, and its block.
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
VERDICT_BLOCK = "verdict"
VERDICT_INPUT = "verdict_input"

STATE_MARK = {"go": "✅ Go", "no_go": "⛔ No-go", "stale": "⚠️ Stale", "waiting": "⏳ Waiting"}
MAX_BLOCKERS = 8


def content_version(release: Release) -> str:
    """What people approve, as a short string: the commit and how often the approved content
    changed (``chat.receivers`` counts it). Other people's answers leave it alone, so they do
    not make a button stale."""
    changes = (
        ApprovedContent.objects.filter(release_id=release.pk)
        .values_list("changes", flat=True)
        .first()
    )
    return f"{release.commit_sha[:12]}.{changes or 0}"


def value(release: Release, version: str, **extra: Any) -> str:
    return json.dumps({"r": release.pk, "v": version, **extra}, separators=(",", ":"))


@dataclass
class Card:
    text: str
    blocks: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        raw = json.dumps([self.text, self.blocks], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def escape(text: str) -> str:
    """People's words (titles, comments) as words: Slack reads ``<…>`` as links and mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(text: str, action_id: str, value_: str, *, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75]},
        "action_id": action_id,
        "value": value_,
    }
    if style:
        button["style"] = style
    return button


def load(release: Release) -> tuple[Release, Readiness]:
    loaded = with_readiness_data(Release.objects.filter(pk=release.pk)).get()
    return loaded, compute_readiness(loaded)


def title_line(release: Release) -> str:
    url = absolute(release.get_absolute_url())
    return f"*<{url}|{escape(release.project.name)} {escape(release.version)}>*"


def state_blocks(release: Release, readiness: Readiness) -> list[dict[str, Any]]:
    """The release as everyone sees it: status, readiness, blockers, sign-offs, decision."""
    lines = [f"{title_line(release)} — {release.get_status_display()}"]
    facts = [f"Readiness {readiness.percent} %"]
    if release.commit_sha:
        facts.append(f"commit `{release.commit_sha[:10]}`")
    if release.go_no_go_at and release.status == Status.FROZEN:
        facts.append(f"go/no-go {release.go_no_go_at:%Y-%m-%d %H:%M} UTC")
    lines.append(" · ".join(facts))
    blocks = [mrkdwn("\n".join(lines))]
    if release.status in SIGNABLE_STATUSES or release.status == Status.PLANNING:
        if readiness.ready:
            blocks.append(mrkdwn("*Ready*: every criterion is met."))
        else:
            shown = [f"• {escape(b.message)}" for b in readiness.blockers[:MAX_BLOCKERS]]
            more = len(readiness.blockers) - MAX_BLOCKERS
            if more > 0:
                shown.append(f"• and {more} more")
            blocks.append(mrkdwn("*Not ready:*\n" + "\n".join(shown)))
    roles = []
    for state in readiness.roles:
        names = {
            "go": state.go,
            "no_go": state.no_go,
            "stale": state.stale,
        }.get(state.state, [])
        who = ", ".join(escape(s.user.get_username()) for s in names)
        quorum = f" ({len(state.go)} of {state.quorum})" if state.quorum > 1 else ""
        roles.append(
            f"{state.label}: {STATE_MARK[state.state]}{quorum}" + (f" – {who}" if who else "")
        )
    if roles:
        blocks.append(mrkdwn("*Sign-offs*\n" + "\n".join(roles)))
    decision = (
        Decision.objects.filter(release_id=release.pk)
        .select_related("decided_by")
        .order_by("-decided_at", "-pk")
        .first()
    )
    if decision is not None:
        blocks.append(
            mrkdwn(
                f"*Decision*: {decision.get_outcome_display()} by "
                f"{escape(decision.decided_by.get_username() if decision.decided_by else '?')}"
                f" at {decision.decided_at:%Y-%m-%d %H:%M} UTC"
                + (" (override)" if decision.overridden else "")
            )
        )
    return blocks


def changed_since(release: Release, user: Any) -> list[str]:
    """Why this person's sign-offs no longer count: what changed since they signed."""
    stale = SignOff.objects.current().filter(
        release_id=release.pk, user=user, stale_at__isnull=False
    )
    return [
        f"Your {s.get_decision_display()} as {s.get_role_display()} of "
        f"{s.created_at:%Y-%m-%d %H:%M} UTC is stale: {escape(s.stale_reason or 'it changed')}."
        for s in stale
    ]


def personal_card(release: Release, user: Any, lead: str = "") -> Card:
    """One person's message: the release, what changed for them, and the buttons they may
    press now (sign, record the decision, judge a check)."""
    loaded, readiness = load(release)
    access = access_for(user, loaded)
    if not user.is_active or not access.can_view:
        # Someone who left the project sees no more of it, here as on the page.
        gone = f"{release.project.name} {release.version} is no longer shared with you."
        return Card(text=gone, blocks=[mrkdwn(escape(gone))])
    version = content_version(loaded)
    blocks = state_blocks(loaded, readiness)
    if lead:
        blocks.insert(0, mrkdwn(f"*{escape(lead)}*"))
    changes = changed_since(loaded, user)
    if changes:
        blocks.append(mrkdwn("*Changed since you signed*\n" + "\n".join(changes)))
    buttons: list[dict[str, Any]] = []
    asked: list[str] = []
    if loaded.status in SIGNABLE_STATUSES:
        for role in access.signing_roles:
            if role not in {state.role for state in readiness.roles}:
                continue
            label = Role(role).label
            asked.append(label)
            buttons.append(
                _button(f"Go as {label}", GO, value(loaded, version, role=role), style="primary")
            )
            buttons.append(
                _button(
                    f"No-go as {label}", NO_GO, value(loaded, version, role=role), style="danger"
                )
            )
    policy = policy_for(loaded.project)
    if loaded.status == Status.FROZEN and access.can_record_decision(policy.decider_role):
        buttons.append(
            _button(
                "Record Go", RECORD_GO, value(loaded, version, s=loaded.status), style="primary"
            )
        )
        buttons.append(
            _button(
                "Record No-go",
                RECORD_NO_GO,
                value(loaded, version, s=loaded.status),
                style="danger",
            )
        )
    if access.can_judge_checks:
        for check in Check.objects.filter(
            release_id=loaded.pk, status=CheckStatus.NEEDS_JUDGEMENT
        ).order_by("name", "pk"):
            buttons.append(
                _button(f"Judge “{check.name}”", JUDGE, value(loaded, version, c=check.pk))
            )
    if buttons:
        # A new block_id per version: Slack keeps no stale button state across an update.
        blocks.append({"type": "actions", "block_id": f"act-{version}", "elements": buttons[:25]})
    if lead:
        text = f"{release.project.name} {release.version}: {lead}"
    elif asked:
        text = f"{release.project.name} {release.version}: your go/no-go as {', '.join(asked)}"
    else:
        text = f"{release.project.name} {release.version}: {loaded.get_status_display()}"
    return Card(text=text, blocks=blocks)


def channel_line(release: Release, summary: str, actor: str) -> Card:
    text = f"{release.project.name} {release.version}: {summary}"
    line = f"{title_line(release)} — {escape(summary)}" + (f" ({escape(actor)})" if actor else "")
    return Card(text=text, blocks=[mrkdwn(line)])


def status_answer(release: Release) -> dict[str, Any]:
    """``/greenlight <version>``: the release's state, for the asker only."""
    loaded, readiness = load(release)
    return {
        "response_type": "ephemeral",
        "text": f"{release.project.name} {release.version}: {loaded.get_status_display()}",
        "blocks": state_blocks(loaded, readiness),
    }


# --- modals ------------------------------------------------------------------------------------


def _modal(callback_id: str, title: str, submit: str, metadata: str, blocks: list) -> dict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit[:24]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": blocks,
    }


def _reason_input(label: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": REASON_BLOCK,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": REASON_INPUT,
            "multiline": True,
            "max_length": 2000,
        },
    }


def no_go_modal(release: Release, role: str, metadata: str) -> dict[str, Any]:
    return _modal(
        NO_GO,
        "No-go",
        "Say No-go",
        metadata,
        [
            mrkdwn(f"{title_line(release)}: No-go as {Role(role).label}."),
            _reason_input("Why No-go? (required)"),
        ],
    )


def record_no_go_modal(release: Release, metadata: str) -> dict[str, Any]:
    return _modal(
        RECORD_NO_GO,
        "Record No-go",
        "Record No-go",
        metadata,
        [mrkdwn(f"{title_line(release)}: record the No-go."), _reason_input("Reasons (required)")],
    )


def judge_modal(release: Release, check: Check, metadata: str) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": "Pass"}, "value": "pass"},
        {"text": {"type": "plain_text", "text": "Fail"}, "value": "fail"},
    ]
    return _modal(
        JUDGE,
        "Judge check",
        "Record judgement",
        metadata,
        [
            mrkdwn(
                f"{title_line(release)}: “{escape(check.name)}” needs judgement."
                + (f"\n{escape(check.last_detail)}" if check.last_detail else "")
            ),
            {
                "type": "input",
                "block_id": VERDICT_BLOCK,
                "label": {"type": "plain_text", "text": "Your judgement"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": VERDICT_INPUT,
                    "options": options,
                },
            },
            _reason_input("Why? (required)"),
        ],
    )
