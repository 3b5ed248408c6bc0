"""A sign-off goes stale when what it approved changes after it was given."""

from __future__ import annotations

import pytest

from approvals import services as approvals
from approvals.models import SignOff
from releases import services
from releases.models import Status
from tests.builders import make_approved, make_ready

pytestmark = pytest.mark.django_db


def current(release, user) -> SignOff:
    return SignOff.objects.current().get(release=release, user=user)


def test_it_stales_every_sign_off_when_a_scope_change_is_accepted(cast, release):
    make_ready(release, cast)
    request = services.request_scope_change(
        release, by=cast.devin, action="add", reason="Customer ask", proposal={"title": "Receipts"}
    )
    services.approve_change_request(request, by=cast.paul, as_role="product")
    assert current(release, cast.quinn).stale_at is None  # one acceptance changes nothing yet
    services.approve_change_request(request, by=cast.rita, as_role="release_manager")
    quinn = current(release, cast.quinn)
    assert quinn.stale_at is not None
    assert "a scope change was accepted" in quinn.stale_reason
    event = release.events.get(verb="sign_offs_stale")
    assert "a scope change was accepted" in event.summary
    assert event.data["cause_event"] == release.events.get(verb="change_accepted").pk


def test_it_stales_sign_offs_when_the_commit_changes(cast, release):
    make_ready(release, cast)
    services.update_release(release, by=cast.dana, commit_sha="d" * 40)
    for user in (cast.paul, cast.quinn, cast.dana, cast.devin):
        assert current(release, user).stale_reason.startswith("the commit changed from aaaaaaaaaa")


def test_it_stales_sign_offs_when_a_required_readiness_item_is_unticked(cast, release):
    make_ready(release, cast)
    item = release.checklist_items.get(title="Migrations reviewed")
    services.untick_checklist_item(item, by=cast.devin)
    assert "“Migrations reviewed” was unticked" in current(release, cast.quinn).stale_reason


def test_it_leaves_sign_offs_alone_for_a_rejected_change(cast, release):
    make_ready(release, cast)
    request = services.request_scope_change(
        release, by=cast.devin, action="add", reason="Customer ask", proposal={"title": "Receipts"}
    )
    services.reject_change_request(request, by=cast.paul, reason="Next release")
    assert not SignOff.objects.filter(release=release, stale_at__isnull=False).exists()


def test_it_does_not_stale_a_sign_off_given_after_the_change(cast, release):
    make_ready(release, cast)
    services.update_release(release, by=cast.dana, commit_sha="d" * 40)
    approvals.record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    assert current(release, cast.quinn).stale_at is None
    assert current(release, cast.paul).stale_at is not None


def test_it_withdraws_an_approval_when_the_commit_changes_after_go(cast, release):
    make_approved(release, cast)
    services.update_release(release, by=cast.dana, commit_sha="e" * 40)
    release.refresh_from_db()
    assert release.status == Status.FROZEN
    assert release.events.filter(verb="approval_withdrawn").count() == 1
