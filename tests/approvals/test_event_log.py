"""Every approval step leaves its entry in the release's event log, in order, with its actor."""

from __future__ import annotations

import pytest

from approvals.services.decisions import open_poll, record_decision
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from releases.models import ReleaseEvent
from releases.services.lifecycle import lock_scope
from releases.services.releases import update_release
from releases.services.scope import (
    approve_change_request,
    reject_change_request,
    request_scope_change,
    withdraw_change_request,
)
from tests.builders import (
    complete_rollback_plan,
    let_release_managers_override,
    make_ready,
    pass_checks,
    tick_readiness,
)

pytestmark = pytest.mark.django_db


def log_since(release, since: int) -> list[tuple[str, str]]:
    return [
        (e.verb, e.actor_name)
        for e in release.events.filter(pk__gt=since).order_by("pk").select_related("actor")
    ]


def last_pk() -> int:
    return ReleaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_it_logs_sign_offs_withdrawals_and_the_moment_they_are_complete(cast, release):
    lock_scope(release, by=cast.rita)
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)
    before = last_pk()
    open_poll(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    record_sign_off(release, by=cast.quinn, role="qa", decision="no_go", comment="Bug")
    withdraw_sign_off(release, by=cast.quinn, role="qa")
    for user, role in [(cast.quinn, "qa"), (cast.paul, "product"), (cast.dana, "devops")]:
        record_sign_off(release, by=user, role=role, decision="go")
    record_sign_off(release, by=cast.devin, role="dev", decision="go")
    assert log_since(release, before) == [
        ("poll_opened", "Rita"),
        ("sign_off_go", "Quinn"),
        ("sign_off_no_go", "Quinn"),
        ("sign_off_withdrawn", "Quinn"),
        ("sign_off_go", "Quinn"),
        ("sign_off_go", "Paul"),
        ("sign_off_go", "Dana"),
        ("sign_off_go", "Devin"),
        ("sign_offs_complete", "Devin"),
    ]
    withdrawn = release.events.get(verb="sign_off_withdrawn")
    assert withdrawn.summary == "QA: quinn withdrew their No-go"


def test_it_logs_stale_marking_after_the_change_that_caused_it(cast, release):
    make_ready(release, cast)
    before = last_pk()
    update_release(release, by=cast.dana, commit_sha="b" * 40)
    assert log_since(release, before) == [
        ("release_updated", "Dana"),
        ("sign_offs_stale", "Dana"),
    ]


def test_it_logs_a_go_a_no_go_and_an_override(cast, release):
    let_release_managers_override(cast, "no_go")
    make_ready(release, cast)
    before = last_pk()
    record_decision(release, by=cast.rita, outcome="go")
    record_decision(release, by=cast.rita, outcome="no_go", notes="Pager storm")
    record_sign_off(release, by=cast.dana, role="devops", decision="no_go", comment="x")
    record_decision(release, by=cast.rita, outcome="go", override_reason="Ship it")
    assert log_since(release, before) == [
        ("decision_go", "Rita"),
        ("approved", "Rita"),
        ("decision_no_go", "Rita"),
        ("returned_to_frozen", "Rita"),
        ("sign_off_no_go", "Dana"),
        ("decision_override", "Rita"),
        ("approved", "Rita"),
    ]
    override = release.events.get(verb="decision_override")
    assert override.data["override_reason"] == "Ship it"
    assert override.data["blockers"] == ["DevOps: dana said No-go – x"]


def test_it_logs_every_step_of_change_requests(cast, release):
    lock_scope(release, by=cast.rita)
    before = last_pk()
    first = request_scope_change(
        release, by=cast.devin, action="add", reason="Ask", proposal={"title": "A"}
    )
    approve_change_request(first, by=cast.rita, as_role="release_manager")
    approve_change_request(first, by=cast.paul, as_role="product")
    second = request_scope_change(
        release, by=cast.devin, action="add", reason="Ask", proposal={"title": "B"}
    )
    reject_change_request(second, by=cast.paul, reason="Later")
    third = request_scope_change(
        release, by=cast.quinn, action="add", reason="Ask", proposal={"title": "C"}
    )
    withdraw_change_request(third, by=cast.quinn)
    assert log_since(release, before) == [
        ("change_requested", "Devin"),
        ("change_approved", "Rita"),
        ("change_accepted", "Paul"),
        ("change_requested", "Devin"),
        ("change_rejected", "Paul"),
        ("change_requested", "Quinn"),
        ("change_withdrawn", "Quinn"),
    ]
