"""A sign-off goes stale when what it approved changes after it was given."""

from __future__ import annotations

import pytest

from approvals.models import SignOff
from approvals.readiness import readiness_for
from approvals.services.decisions import record_decision
from approvals.services.sign_offs import record_sign_off
from lib.errors import Refused
from releases.models import Notification, Status
from releases.services.checklists import tick_checklist_item, untick_checklist_item
from releases.services.releases import update_release
from releases.services.scope import (
    approve_change_request,
    reject_change_request,
    request_scope_change,
)
from tests.builders import make_approved, make_ready

pytestmark = pytest.mark.django_db


def current(release, user) -> SignOff:
    return SignOff.objects.current().get(release=release, user=user)


def test_it_stales_every_sign_off_when_a_scope_change_is_accepted(cast, release):
    make_ready(release, cast)
    request = request_scope_change(
        release, by=cast.devin, action="add", reason="Customer ask", proposal={"title": "Receipts"}
    )
    approve_change_request(request, by=cast.paul, as_role="product")
    assert current(release, cast.quinn).stale_at is None  # one acceptance changes nothing yet
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    quinn = current(release, cast.quinn)
    assert quinn.stale_at is not None
    assert "a scope change was accepted" in quinn.stale_reason
    event = release.events.get(verb="sign_offs_stale")
    assert "a scope change was accepted" in event.summary
    assert event.data["cause_event"] == release.events.get(verb="change_accepted").pk


def test_it_stales_sign_offs_when_the_commit_changes(cast, release):
    make_ready(release, cast)
    update_release(release, by=cast.dana, commit_sha="d" * 40)
    for user in (cast.paul, cast.quinn, cast.dana, cast.devin):
        assert current(release, user).stale_reason.startswith("the commit changed from aaaaaaaaaa")


def test_it_stales_sign_offs_when_a_required_readiness_item_is_unticked(cast, release):
    make_ready(release, cast)
    item = release.checklist_items.get(title="Migrations reviewed")
    untick_checklist_item(item, by=cast.devin)
    assert "“Migrations reviewed” was unticked" in current(release, cast.quinn).stale_reason


def test_it_leaves_sign_offs_alone_for_a_rejected_change(cast, release):
    make_ready(release, cast)
    request = request_scope_change(
        release, by=cast.devin, action="add", reason="Customer ask", proposal={"title": "Receipts"}
    )
    reject_change_request(request, by=cast.paul, reason="Next release")
    assert not SignOff.objects.filter(release=release, stale_at__isnull=False).exists()


def test_it_does_not_stale_a_sign_off_given_after_the_change(cast, release):
    make_ready(release, cast)
    update_release(release, by=cast.dana, commit_sha="d" * 40)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    assert current(release, cast.quinn).stale_at is None
    assert current(release, cast.paul).stale_at is not None


def test_it_withdraws_an_approval_when_the_commit_changes_after_go(cast, release):
    make_approved(release, cast)
    update_release(release, by=cast.dana, commit_sha="e" * 40)
    release.refresh_from_db()
    assert release.status == Status.FROZEN
    assert release.events.filter(verb="approval_withdrawn").count() == 1


def accept_removal(cast, release) -> None:
    request = request_scope_change(
        release,
        by=cast.devin,
        action="remove",
        reason="Not done",
        scope_item=release.scope_items.get(),
    )
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    approve_change_request(request, by=cast.paul, as_role="product")


@pytest.mark.parametrize(
    ("change", "cause_verb", "words"),
    [
        (
            lambda c, r: update_release(r, by=c.dana, commit_sha="f" * 40),
            "release_updated",
            "the commit changed from aaaaaaaaaa to ffffffffff",
        ),
        (
            lambda c, r: untick_checklist_item(
                r.checklist_items.get(title="Critical flows pass"), by=c.quinn, reason="Flaky"
            ),
            "checklist_unticked",
            "the required checklist item “Critical flows pass” was unticked",
        ),
        (
            lambda c, r: accept_removal(c, r),
            "change_accepted",
            "a scope change was accepted (deferred Feature “PAY-1 Feature 1”)",
        ),
    ],
    ids=["commit", "untick", "scope change"],
)
def test_it_logs_which_change_made_the_sign_offs_stale(cast, release, change, cause_verb, words):
    make_ready(release, cast)
    change(cast, release)
    event = release.events.get(verb="sign_offs_stale")
    cause = release.events.get(verb=cause_verb)
    assert event.data["cause_event"] == cause.pk
    assert event.data["cause_verb"] == cause_verb
    assert event.data["reason"] == words
    assert event.summary.startswith(f"Sign-offs now stale because {words}: ")
    for name in ("paul", "quinn", "dana", "devin"):
        assert name in event.summary


def test_it_counts_a_stale_sign_off_as_missing_and_asks_the_person_again(cast, release):
    make_ready(release, cast)
    update_release(release, by=cast.dana, commit_sha="d" * 40)
    readiness = readiness_for(release)
    assert not readiness.ready
    assert {r.role: r.state for r in readiness.roles} == dict.fromkeys(
        ["dev", "qa", "devops", "product"], "stale"
    )
    asked = Notification.objects.filter(verb="sign_off_stale")
    assert sorted(asked.values_list("user__username", flat=True)) == [
        "dana",
        "devin",
        "paul",
        "quinn",
    ]
    first = asked.first()
    assert first is not None
    assert "stale because the commit changed" in first.message
    with pytest.raises(Refused, match="sign-off is stale"):
        record_decision(release, by=cast.rita, outcome="go")


def test_it_does_not_stale_anything_when_an_optional_item_is_unticked(cast, release):
    make_ready(release, cast)
    item = release.checklist_items.get(title="Stakeholders told")
    tick_checklist_item(item, by=cast.rita)
    untick_checklist_item(item, by=cast.rita)
    assert not SignOff.objects.filter(release=release, stale_at__isnull=False).exists()
    assert not release.events.filter(verb="sign_offs_stale").exists()
