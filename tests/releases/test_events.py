"""Each service writes exactly one event per change, in the same transaction as the change."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.sign_offs import record_sign_off
from lib.errors import Refused
from releases.events import log_event
from releases.models import ReleaseEvent, ScopeItem
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import cancel_release, lock_scope
from releases.services.notes import add_note
from releases.services.releases import update_release
from releases.services.rollback import update_rollback_plan
from releases.services.scope import (
    add_scope_item,
    approve_change_request,
    request_scope_change,
    set_scope_item_state,
    update_scope_item,
)
from releases.signals import event_logged
from tests.builders import make_approved, make_ready, make_release

pytestmark = pytest.mark.django_db


def new_events(release, since: int) -> list[str]:
    return list(release.events.filter(pk__gt=since).order_by("pk").values_list("verb", flat=True))


def last_pk() -> int:
    return ReleaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize(
    ("name", "call", "verbs"),
    [
        ("lock", lambda c, r: lock_scope(r, by=c.rita), ["scope_locked"]),
        (
            "add scope",
            lambda c, r: add_scope_item(r, by=c.rita, title="More"),
            ["scope_added"],
        ),
        (
            "edit scope",
            lambda c, r: update_scope_item(r.scope_items.get(), by=c.rita, risk="high"),
            ["scope_changed"],
        ),
        (
            "defer scope",
            lambda c, r: set_scope_item_state(r.scope_items.get(), "deferred", by=c.rita),
            ["scope_deferred"],
        ),
        (
            "tick",
            lambda c, r: tick_checklist_item(r.checklist_items.first(), by=c.quinn, note="ok"),
            ["checklist_ticked"],
        ),
        (
            "rollback plan",
            lambda c, r: update_rollback_plan(r, by=c.dana, revert_steps="Revert"),
            ["rollback_plan_updated"],
        ),
        (
            "edit release",
            lambda c, r: update_release(r, by=c.rita, title="New title"),
            ["release_updated"],
        ),
        ("note", lambda c, r: add_note(r, by=c.quinn, text="FYI"), ["note"]),
        (
            "assign",
            lambda c, r: assign_role(r, c.quinn, "dev", by=c.rita),
            ["role_assigned"],
        ),
        (
            "cancel",
            lambda c, r: cancel_release(r, by=c.rita, reason="Moved"),
            ["cancelled"],
        ),
    ],
)
def test_it_writes_one_event_per_change(cast, release, name, call, verbs):
    before = last_pk()
    call(cast, release)
    assert new_events(release, before) == verbs


def test_it_writes_one_event_per_sign_off_and_decision(cast, release):
    make_ready(release, cast)
    before = last_pk()
    record_sign_off(release, by=cast.quinn, role="qa", decision="go", comment="Again")
    assert new_events(release, before) == ["sign_off_go"]
    before = last_pk()
    record_decision(release, by=cast.rita, outcome="go")
    assert new_events(release, before) == ["decision_go", "approved"]


def test_it_writes_nothing_when_a_change_is_refused(cast):
    release = make_release(cast, scope=0)
    before = last_pk()
    with pytest.raises(Refused):
        lock_scope(release, by=cast.rita)
    with pytest.raises(ValidationError):
        add_scope_item(release, by=cast.rita, title=" ")
    assert new_events(release, before) == []


def test_it_writes_nothing_for_an_edit_that_changes_nothing(cast, release):
    before = last_pk()
    update_release(release, by=cast.rita, title=release.title)
    assert new_events(release, before) == []


def test_it_rolls_the_event_back_with_a_failing_change(cast, release):
    before = last_pk()

    def doomed_request() -> None:
        with transaction.atomic():
            add_scope_item(release, by=cast.rita, title="Doomed")
            raise RuntimeError("the rest of the request failed")

    with pytest.raises(RuntimeError):
        doomed_request()
    assert new_events(release, before) == []
    assert not ScopeItem.objects.filter(title="Doomed").exists()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_log_outside_a_transaction(cast, release):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        log_event(release, actor=cast.rita, verb="note", summary="x")
    assert not release.events.filter(verb="note").exists()


def test_it_never_edits_or_deletes_events(cast, release):
    event = release.events.first()
    event.summary = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        ReleaseEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    assert ReleaseEvent.objects.get(pk=event.pk).summary != "rewritten"


def test_it_records_before_and_after_of_an_edit(cast, release):
    update_release(release, by=cast.rita, environment="staging")
    event = release.events.get(verb="release_updated")
    assert event.before == {"environment": "production"}
    assert event.after == {"environment": "staging"}
    assert event.actor == cast.rita


def test_it_logs_each_step_of_a_change_request(cast, release):
    make_approved(release, cast)
    before = last_pk()
    request = request_scope_change(
        release, by=cast.devin, action="add", reason="Ask", proposal={"title": "Late"}
    )
    approve_change_request(request, by=cast.paul, as_role="product")
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    assert new_events(release, before) == [
        "change_requested",
        "change_approved",
        "change_accepted",
        "sign_offs_stale",
        "approval_withdrawn",
    ]
    assert release.scope_items.get(title="Late").added_after_freeze


@pytest.mark.django_db(transaction=True)
def test_it_announces_an_event_only_once_its_change_has_committed(cast):
    release = make_release(cast)
    heard = []

    def listen(sender, event, **kwargs):
        heard.append(event.verb)

    event_logged.connect(listen)
    try:
        with transaction.atomic():
            log_event(release, actor=cast.rita, verb="note", summary="A note")
            assert heard == []
        assert heard == ["note"]

        def change_that_fails():
            with transaction.atomic():
                log_event(release, actor=cast.rita, verb="note", summary="Rolled back")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            change_that_fails()
        assert heard == ["note"]
    finally:
        event_logged.disconnect(listen)
