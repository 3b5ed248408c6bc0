from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from releases.release_notes import escape, render_release_notes
from releases.services.scope import (
    add_scope_item,
    approve_change_request,
    request_scope_change,
    resolve_risk,
    set_scope_item_state,
)
from tests.builders import make_ready, make_release

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "release_notes_2.5.0.md"


def build(cast):
    release = make_release(
        cast,
        "2.5.0",
        scope=0,
        title="Saved cards",
        git_ref="release/2.5.0",
        deploy_window_start=dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC),
    )
    add = lambda **f: add_scope_item(release, by=cast.rita, **f)  # noqa: E731
    add(
        kind="feature",
        key="PAY-142",
        url="https://jira.example.com/browse/PAY-142",
        title="Saved cards for returning customers",
        risk="medium",
    )
    add(
        kind="fix",
        key="PAY-161",
        url="https://jira.example.com/browse/PAY-161",
        title="Refund total rounds to the cent",
    )
    add(kind="dependency", key="OPS-33", title="Stripe API version 2026-09", risk="medium")
    risk = add(kind="risk", title="Card vault migration touches 2M rows", risk="blocker")
    add(kind="limitation", title="Apple Pay only for EUR and USD [for now]")
    dropped = add(kind="feature", key="PAY-150", title="Apple Pay on the checkout page")
    set_scope_item_state(dropped, "deferred", by=cast.rita)
    resolve_risk(risk, by=cast.rita, resolution="Dry run on a copy took 4 minutes")
    make_ready(release, cast)
    request = request_scope_change(
        release,
        by=cast.devin,
        action="add",
        reason="Merchants asked",
        proposal={
            "kind": "fix",
            "key": "PAY-170",
            "title": "Show the card brand on receipts",
            "url": "https://jira.example.com/browse/PAY-170",
        },
    )
    approve_change_request(request, by=cast.paul, as_role="product")
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    return release


def test_it_renders_the_release_notes_exactly_as_the_fixture(cast):
    release = build(cast)
    assert render_release_notes(release) == FIXTURE.read_text()


def test_it_marks_items_added_after_the_freeze(cast):
    notes = render_release_notes(build(cast))
    assert "PAY-170" in notes
    line = next(line for line in notes.splitlines() if "PAY-170" in line)
    assert "**added after the scope freeze**" in line
    assert "> 1 item was added after the scope freeze" in notes


def test_it_escapes_markdown_in_titles():
    assert escape("Use *bold* [x](y) <script>") == r"Use \*bold\* \[x\]\(y\) \<script\>"


def test_it_says_when_nothing_is_in_scope(cast):
    release = make_release(cast, "9.9.9", scope=0)
    assert "Nothing is in scope yet." in render_release_notes(release)
