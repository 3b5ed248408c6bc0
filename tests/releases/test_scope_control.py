"""Scope control after the lock: change requests that Product and the release manager accept
(both, neither being the requester) or reject with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from approvals.services.deploy import assign_role
from lib.errors import NotAllowed, Refused
from releases.models import Notification, ScopeChangeRequest, ScopeItem
from releases.services.lifecycle import lock_scope
from releases.services.projects import set_project_roles
from releases.services.scope import (
    approve_change_request,
    reject_change_request,
    request_scope_change,
    withdraw_change_request,
)
from tests.builders import make_release, second_release_manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    return release


def ask_to_add(cast, release, by=None, title="Receipts in PDF"):
    return request_scope_change(
        release,
        by=by or cast.devin,
        action="add",
        reason="Merchants asked",
        proposal={"title": title, "key": "PAY-9", "risk": "medium"},
    )


class TestRequest:
    def test_it_records_who_asked_for_what_and_why(self, cast, frozen):
        request = ask_to_add(cast, frozen)
        assert (request.requested_by, request.action, request.reason) == (
            cast.devin,
            "add",
            "Merchants asked",
        )
        assert request.state == "pending"
        assert str(request) == "Add an item: Receipts in PDF"

    def test_it_tells_product_and_the_release_manager_a_request_waits_for_them(self, cast, frozen):
        ask_to_add(cast, frozen, by=cast.paul)
        waiting = Notification.objects.filter(verb="change_request_waiting")
        # paul asked, so only rita is waiting on it.
        assert list(waiting.values_list("user__username", flat=True)) == ["rita"]
        assert "waits for your decision: Add an item: Receipts in PDF" in waiting.get().message

    def test_it_refuses_a_change_request_before_the_scope_is_locked(self, cast, release):
        with pytest.raises(Refused, match="Change requests are for locked scope"):
            ask_to_add(cast, release)
        assert not ScopeChangeRequest.objects.exists()

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"action": "add", "reason": " ", "proposal": {"title": "X"}}, "reason"),
            ({"action": "add", "reason": "r", "proposal": {"title": " "}}, "title"),
            ({"action": "add", "reason": "r", "proposal": {"title": "X", "risk": "huge"}}, "risk"),
            ({"action": "change_risk", "reason": "r", "proposal": {"risk": "huge"}}, "risk"),
            ({"action": "rename", "reason": "r"}, "action"),
        ],
    )
    def test_it_refuses_a_bad_request_with_a_field_error(self, cast, frozen, kwargs, field):
        if kwargs["action"] == "change_risk":
            kwargs["scope_item"] = frozen.scope_items.get()
        with pytest.raises(ValidationError) as error:
            request_scope_change(frozen, by=cast.devin, **kwargs)
        assert field in error.value.message_dict
        assert not ScopeChangeRequest.objects.exists()

    def test_it_refuses_to_remove_an_item_of_another_release_or_a_deferred_one(self, cast, frozen):
        other = make_release(cast, "9.9.9")
        with pytest.raises(ValidationError, match="Choose an item of this release"):
            request_scope_change(
                frozen,
                by=cast.devin,
                action="remove",
                reason="r",
                scope_item=other.scope_items.get(),
            )
        item = frozen.scope_items.get()
        ScopeItem.objects.filter(pk=item.pk).update(state="deferred")
        item.refresh_from_db()
        with pytest.raises(ValidationError, match="already deferred"):
            request_scope_change(
                frozen, by=cast.devin, action="remove", reason="r", scope_item=item
            )


class TestAcceptance:
    def test_it_applies_the_change_only_when_product_and_the_release_manager_accept(
        self, cast, frozen
    ):
        request = ask_to_add(cast, frozen)
        approve_change_request(request, by=cast.paul, as_role="product")
        request.refresh_from_db()
        assert request.state == "pending"
        assert not frozen.scope_items.filter(title="Receipts in PDF").exists()

        approve_change_request(request, by=cast.rita, as_role="release_manager")
        request.refresh_from_db()
        assert request.state == "accepted"
        assert (request.product_approved_by, request.manager_approved_by) == (cast.paul, cast.rita)
        item = frozen.scope_items.get(title="Receipts in PDF")
        assert item.added_after_freeze
        assert (item.key, item.risk, item.created_by) == ("PAY-9", "medium", cast.devin)
        told = Notification.objects.get(verb="change_accepted")
        assert told.user == cast.devin

    def test_it_never_lets_the_requester_accept_their_own_change(self, cast, frozen):
        request = ask_to_add(cast, frozen, by=cast.paul)
        with pytest.raises(NotAllowed, match="You asked for this change"):
            approve_change_request(request, by=cast.paul, as_role="product")
        request.refresh_from_db()
        assert request.product_approved_at is None

    def test_it_needs_two_different_people(self, cast, frozen):
        set_project_roles(cast.project, cast.rita, ["release_manager"], by=cast.rita)
        # Another release manager puts her on Product: she may not do so on her own release.
        rhea = second_release_manager(frozen, cast)
        assign_role(frozen, cast.rita, "product", by=rhea)
        request = ask_to_add(cast, frozen)
        approve_change_request(request, by=cast.rita, as_role="release_manager")
        with pytest.raises(NotAllowed, match="You already accepted this change as release manager"):
            approve_change_request(request, by=cast.rita, as_role="product")
        request.refresh_from_db()
        assert request.state == "pending"

    @pytest.mark.parametrize(
        ("who", "as_role"),
        [("quinn", "product"), ("devin", "release_manager"), ("paul", "release_manager")],
    )
    def test_it_only_accepts_in_a_role_the_person_holds(self, cast, frozen, who, as_role):
        request = ask_to_add(cast, frozen, by=cast.dana)
        with pytest.raises(NotAllowed, match="so you cannot accept the change in that role"):
            approve_change_request(request, by=getattr(cast, who), as_role=as_role)
        request.refresh_from_db()
        assert (request.product_approved_at, request.manager_approved_at) == (None, None)

    def test_it_refuses_to_accept_a_decided_request(self, cast, frozen):
        request = ask_to_add(cast, frozen)
        reject_change_request(request, by=cast.rita, reason="Next release")
        with pytest.raises(Refused, match="already rejected"):
            approve_change_request(request, by=cast.paul, as_role="product")

    def test_it_changes_the_risk_and_defers_an_item(self, cast):
        release = make_release(cast, scope=2)
        lock_scope(release, by=cast.rita)
        first, second = release.scope_items.order_by("pk")
        changes: list[dict[str, Any]] = [
            {"action": "change_risk", "scope_item": first, "proposal": {"risk": "high"}},
            {"action": "remove", "scope_item": second},
        ]
        for kwargs in changes:
            request = request_scope_change(release, by=cast.devin, reason="r", **kwargs)
            approve_change_request(request, by=cast.paul, as_role="product")
            approve_change_request(request, by=cast.rita, as_role="release_manager")
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.risk == "high"
        assert second.state == "deferred"
        summaries = list(
            release.events.filter(verb="change_accepted").values_list("summary", flat=True)
        )
        assert "changed the risk of Feature “PAY-1 Feature 1” from low to high" in summaries[1]
        assert "deferred Feature “PAY-2 Feature 2”" in summaries[0]


class TestRejectionAndWithdrawal:
    def test_it_rejects_with_a_reason_and_tells_the_requester(self, cast, frozen):
        request = ask_to_add(cast, frozen)
        with pytest.raises(ValidationError):
            reject_change_request(request, by=cast.paul, reason=" ")
        reject_change_request(request, by=cast.paul, reason="Next release")
        request.refresh_from_db()
        assert (request.state, request.rejection_reason, request.decided_by) == (
            "rejected",
            "Next release",
            cast.paul,
        )
        assert not frozen.scope_items.filter(title="Receipts in PDF").exists()
        told = Notification.objects.get(verb="change_rejected")
        assert told.user == cast.devin
        assert told.message.endswith("was rejected: Next release")

    @pytest.mark.parametrize("who", ["quinn", "vic"])
    def test_it_lets_only_product_or_the_release_manager_reject(self, cast, frozen, who):
        request = ask_to_add(cast, frozen)
        with pytest.raises(NotAllowed, match="Only Product and the release manager"):
            reject_change_request(request, by=getattr(cast, who), reason="No")
        request.refresh_from_db()
        assert request.state == "pending"

    def test_it_lets_only_the_requester_withdraw(self, cast, frozen):
        request = ask_to_add(cast, frozen)
        with pytest.raises(NotAllowed, match="Only the person who asked"):
            withdraw_change_request(request, by=cast.rita)
        withdraw_change_request(request, by=cast.devin)
        request.refresh_from_db()
        assert request.state == "withdrawn"
