"""Scope on the release page: edits while planning, change requests after the freeze."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.services.sign_offs import record_sign_off
from releases.models import ScopeChangeRequest, ScopeItem
from releases.services.lifecycle import lock_scope
from releases.services.scope import add_scope_item
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db


def test_it_adds_a_scope_item_while_planning(cast, release):
    response = htmx_post(
        client_for(cast.devin),
        reverse("scope_add", args=[release.pk]),
        {
            "kind": "fix",
            "title": "Refund rounding",
            "key": "PAY-9",
            "risk": "medium",
            "owner": cast.devin.pk,
            "url": "https://jira.example.com/browse/PAY-9",
        },
    )
    assert response.status_code == 200
    assert "Added “Refund rounding”." in response.content.decode()
    item = release.scope_items.get(key="PAY-9")
    assert (item.kind, item.risk, item.owner) == ("fix", "medium", cast.devin)


def test_it_shows_field_errors_for_a_scope_item_without_title(cast, release):
    response = htmx_post(
        client_for(cast.devin),
        reverse("scope_add", args=[release.pk]),
        {"kind": "fix", "title": "", "risk": "low"},
    )
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert release.scope_items.count() == 1


def test_it_edits_and_defers_an_item(cast, release):
    item = release.scope_items.get()
    client = client_for(cast.paul)
    response = htmx_post(
        client,
        reverse("scope_edit", args=[release.pk, item.pk]),
        {
            f"item{item.pk}-kind": "feature",
            f"item{item.pk}-title": "Saved cards",
            f"item{item.pk}-risk": "high",
            f"item{item.pk}-key": "PAY-1",
        },
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.title, item.risk) == ("Saved cards", "high")
    response = htmx_post(
        client, reverse("scope_state", args=[release.pk, item.pk]), {"state": "deferred"}
    )
    assert response.status_code == 200
    assert "Deferred “Saved cards”." in response.content.decode()
    item.refresh_from_db()
    assert item.state == ScopeItem.State.DEFERRED


def test_it_groups_items_by_kind_with_owner_link_and_risk(cast, release):
    add_scope_item(
        release, by=cast.rita, kind="risk", title="Vault migration", risk="high", owner=cast.dana
    )
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "<h3>Feature</h3>" in page
    assert "<h3>Known risk</h3>" in page
    assert "High risk" in page
    assert "Owner: Dana" in page


def test_it_refuses_direct_edits_after_the_freeze(cast, release):
    lock_scope(release, by=cast.rita)
    response = htmx_post(
        client_for(cast.devin),
        reverse("scope_add", args=[release.pk]),
        {"kind": "fix", "title": "Late fix", "risk": "low"},
    )
    # Developers edit scope; the locked scope is what refuses (the state, so 409).
    assert response.status_code == 409
    assert "The scope is locked: request a change instead" in response.content.decode()
    assert release.scope_items.count() == 1


def test_it_refuses_scope_edits_by_a_viewer(cast, release):
    response = htmx_post(
        client_for(cast.vic),
        reverse("scope_add", args=[release.pk]),
        {"kind": "fix", "title": "Nope", "risk": "low"},
    )
    assert response.status_code == 403
    assert release.scope_items.count() == 1


def request_addition(client, release, **extra):
    data = {
        "action": "add",
        "title": "Card brand on receipts",
        "kind": "fix",
        "risk": "low",
        "reason": "Merchants asked",
    } | extra
    return htmx_post(client, reverse("change_request_new", args=[release.pk]), data)


def test_it_applies_a_change_accepted_by_product_and_the_release_manager_and_stales_sign_offs(
    cast, release
):
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")
    assert request_addition(client_for(cast.devin), release).status_code == 200
    change = ScopeChangeRequest.objects.get()

    accept = reverse("change_request_accept", args=[release.pk, change.pk])
    response = htmx_post(client_for(cast.paul), accept)
    assert response.status_code == 200
    assert "Accepted; waiting for the other side." in response.content.decode()
    response = htmx_post(client_for(cast.rita), accept)
    assert response.status_code == 200
    assert "Accepted and applied." in response.content.decode()

    item = release.scope_items.get(title="Card brand on receipts")
    assert item.added_after_freeze
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "Added after freeze" in page
    assert 'data-testid="signoff-qa-quinn">Stale<' in page
    assert "No longer counts: a scope change was accepted" in page


def test_it_offers_acceptance_only_to_product_and_the_release_manager(cast, release):
    lock_scope(release, by=cast.rita)
    request_addition(client_for(cast.devin), release)
    change = ScopeChangeRequest.objects.get()
    button = f'id="change-{change.pk}-accept"'
    assert button in client_for(cast.paul).get(release.get_absolute_url()).content.decode()
    assert button in client_for(cast.rita).get(release.get_absolute_url()).content.decode()
    assert button not in client_for(cast.quinn).get(release.get_absolute_url()).content.decode()
    assert button not in client_for(cast.devin).get(release.get_absolute_url()).content.decode()
    response = htmx_post(
        client_for(cast.quinn), reverse("change_request_accept", args=[release.pk, change.pk])
    )
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.product_approved_at is None
    assert change.manager_approved_at is None


def test_it_does_not_let_the_requester_accept_their_own_change(cast, release):
    lock_scope(release, by=cast.rita)
    request_addition(client_for(cast.rita), release)
    change = ScopeChangeRequest.objects.get()
    response = htmx_post(
        client_for(cast.rita), reverse("change_request_accept", args=[release.pk, change.pk])
    )
    assert response.status_code == 403
    assert "someone else has to accept it" in response.content.decode()


def test_it_rejects_a_change_with_a_reason(cast, release):
    lock_scope(release, by=cast.rita)
    request_addition(client_for(cast.devin), release)
    change = ScopeChangeRequest.objects.get()
    url = reverse("change_request_reject", args=[release.pk, change.pk])
    missing = htmx_post(client_for(cast.paul), url, {f"reject{change.pk}-reason": ""})
    assert missing.status_code == 422
    change.refresh_from_db()
    assert change.state == ScopeChangeRequest.State.PENDING
    response = htmx_post(client_for(cast.paul), url, {f"reject{change.pk}-reason": "Too late"})
    assert response.status_code == 200
    change.refresh_from_db()
    assert (change.state, change.rejection_reason) == ("rejected", "Too late")


def test_it_lets_the_requester_withdraw(cast, release):
    lock_scope(release, by=cast.rita)
    request_addition(client_for(cast.devin), release)
    change = ScopeChangeRequest.objects.get()
    url = reverse("change_request_withdraw", args=[release.pk, change.pk])
    assert htmx_post(client_for(cast.paul), url).status_code == 403
    assert htmx_post(client_for(cast.devin), url).status_code == 200
    change.refresh_from_db()
    assert change.state == ScopeChangeRequest.State.WITHDRAWN


def test_it_shows_field_errors_of_a_change_request(cast, release):
    lock_scope(release, by=cast.rita)
    response = request_addition(client_for(cast.devin), release, title="", reason="")
    assert response.status_code == 422
    body = response.content.decode()
    assert "This field is required." in body  # the reason
    assert not ScopeChangeRequest.objects.exists()
    response = request_addition(client_for(cast.devin), release, title="")
    assert response.status_code == 422
    assert "A new scope item needs a title." in response.content.decode()
    assert not ScopeChangeRequest.objects.exists()


def test_it_requests_a_risk_change_on_an_existing_item(cast, release):
    lock_scope(release, by=cast.rita)
    item = release.scope_items.get()
    response = htmx_post(
        client_for(cast.devin),
        reverse("change_request_new", args=[release.pk]),
        {
            "action": "change_risk",
            "scope_item": item.pk,
            "risk": "blocker",
            "reason": "Found a data race",
        },
    )
    assert response.status_code == 200
    change = ScopeChangeRequest.objects.get()
    assert (change.scope_item, change.proposal) == (item, {"risk": "blocker"})


def test_it_resolves_a_blocker_risk(cast, release):
    item = add_scope_item(
        release, by=cast.rita, kind="risk", title="Vault migration", risk="blocker"
    )
    url = reverse("risk_resolve", args=[release.pk, item.pk])
    assert (
        htmx_post(client_for(cast.quinn), url, {f"resolve{item.pk}-resolution": "x"}).status_code
        == 403
    )
    response = htmx_post(
        client_for(cast.paul), url, {f"resolve{item.pk}-resolution": "Rehearsed on a copy"}
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.resolution == "Rehearsed on a copy"
