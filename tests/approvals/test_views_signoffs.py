"""Sign-offs, the go/no-go poll and the decision, from the release page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import Decision, SignOff
from releases.models import Notification, Status
from releases.services.lifecycle import lock_scope
from tests.builders import (
    let_release_managers_override,
    make_ready,
    pass_checks,
    tick_readiness,
)
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    release.refresh_from_db()
    return release


def sign(client, release, **data):
    return htmx_post(client, reverse("sign_off", args=[release.pk]), data)


def test_it_records_products_go_and_shows_it(cast, frozen):
    response = sign(
        client_for(cast.paul), frozen, role="product", decision="go", comment="Scope is right"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your Go as Product is recorded." in body
    assert 'data-testid="role-state-product">Go<' in body
    sign_off = SignOff.objects.current().get(release=frozen, role="product")
    assert (sign_off.user, sign_off.decision, sign_off.comment) == (
        cast.paul,
        "go",
        "Scope is right",
    )


def test_it_shows_go_and_no_go_buttons_only_for_my_own_roles(cast, frozen):
    page = client_for(cast.paul).get(frozen.get_absolute_url()).content.decode()
    assert 'id="sign-product-go"' in page
    assert 'id="sign-dev-go"' not in page
    devins = client_for(cast.devin).get(frozen.get_absolute_url()).content.decode()
    assert 'id="sign-dev-go"' in devins
    assert 'id="sign-product-go"' not in devins


def test_it_refuses_a_forged_sign_off_for_a_role_i_do_not_hold(cast, frozen):
    response = sign(client_for(cast.devin), frozen, role="product", decision="go")
    assert response.status_code == 403
    assert "You are not assigned as Product on this release, so you cannot sign for" in (
        response.content.decode()
    )
    assert not SignOff.objects.filter(release=frozen).exists()


def test_it_needs_a_reason_for_a_no_go(cast, frozen):
    response = sign(client_for(cast.quinn), frozen, role="qa", decision="no_go", comment=" ")
    assert response.status_code == 422
    assert "A No-go needs a reason." in response.content.decode()
    assert not SignOff.objects.filter(release=frozen).exists()


def test_it_records_a_no_go_with_its_reason_and_tells_the_release_manager(cast, frozen):
    response = sign(
        client_for(cast.quinn), frozen, role="qa", decision="no_go", comment="Login broken"
    )
    assert response.status_code == 200
    assert "“Login broken”" in response.content.decode()
    assert Notification.objects.filter(user=cast.rita, verb="no_go").exists()


def test_it_refuses_sign_offs_while_planning_with_the_reason(cast, release):
    response = sign(client_for(cast.paul), release, role="product", decision="go")
    assert response.status_code == 409
    assert "Sign-offs are given once the scope is locked" in response.content.decode()


def test_it_withdraws_my_sign_off(cast, frozen):
    client = client_for(cast.paul)
    sign(client, frozen, role="product", decision="go")
    response = htmx_post(
        client, reverse("sign_off_withdraw", args=[frozen.pk]), {"role": "product"}
    )
    assert response.status_code == 200
    assert not SignOff.objects.current().filter(release=frozen).exists()


def test_it_signs_without_javascript(cast, frozen):
    client = client_for(cast.paul)
    response = client.post(
        reverse("sign_off", args=[frozen.pk]), {"role": "product", "decision": "go"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Your Go as Product is recorded." in page


def test_it_opens_the_poll_and_asks_the_required_roles(cast, frozen):
    response = htmx_post(client_for(cast.rita), reverse("poll_open", args=[frozen.pk]))
    assert response.status_code == 200
    frozen.refresh_from_db()
    assert frozen.poll_opened_at is not None
    asked = set(
        Notification.objects.filter(verb="sign_off_requested").values_list(
            "user__username", flat=True
        )
    )
    assert asked == {"paul", "quinn", "dana", "devin"}


def test_it_lets_only_the_release_manager_open_the_poll(cast, frozen):
    response = htmx_post(client_for(cast.paul), reverse("poll_open", args=[frozen.pk]))
    assert response.status_code == 403
    frozen.refresh_from_db()
    assert frozen.poll_opened_at is None


def decide(client, release, **data):
    return htmx_post(client, reverse("decision_record", args=[release.pk]), data)


def test_it_records_go_on_a_ready_release(cast, release):
    make_ready(release, cast)
    response = decide(client_for(cast.rita), release, outcome="go")
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.status == Status.APPROVED
    decision = Decision.objects.get(release=release)
    assert not decision.overridden
    assert decision.get_absolute_url() in response.content.decode()


def test_it_shows_blockers_and_asks_for_an_override_reason_before_a_go_on_a_not_ready_release(
    cast, frozen
):
    let_release_managers_override(cast, "sign_offs")
    page = client_for(cast.rita).get(frozen.get_absolute_url()).content.decode()
    assert "A Go now is an override" in page
    assert "Product has not signed off" in page
    assert 'name="override_reason"' in page
    response = decide(client_for(cast.rita), frozen, outcome="go")
    assert response.status_code == 409
    assert "A Go now needs an override with a reason." in response.content.decode()
    frozen.refresh_from_db()
    assert frozen.status == Status.FROZEN
    assert not Decision.objects.exists()


def test_it_records_an_override_go_with_its_reason(cast, frozen):
    let_release_managers_override(cast, "sign_offs")
    tick_readiness(frozen, cast)
    pass_checks(frozen)
    response = decide(
        client_for(cast.rita), frozen, outcome="go", override_reason="Security fix, ship today"
    )
    assert response.status_code == 200
    frozen.refresh_from_db()
    assert frozen.status == Status.APPROVED
    assert frozen.override_used
    decision = Decision.objects.get(release=frozen)
    assert decision.overridden
    assert decision.override_reason == "Security fix, ship today"


def test_it_records_a_no_go_with_reasons(cast, frozen):
    response = decide(client_for(cast.rita), frozen, outcome="no_go", notes="QA found data loss")
    assert response.status_code == 200
    decision = Decision.objects.get(release=frozen)
    assert decision.outcome == "no_go"
    assert decision.notes == "QA found data loss"


def test_it_needs_reasons_for_a_no_go_decision(cast, frozen):
    response = decide(client_for(cast.rita), frozen, outcome="no_go")
    assert response.status_code == 422
    assert "List the reasons for the No-go." in response.content.decode()
    assert not Decision.objects.exists()


def test_it_lets_only_the_decider_record_the_decision(cast, release):
    make_ready(release, cast)
    response = decide(client_for(cast.paul), release, outcome="go")
    assert response.status_code == 403
    assert "Only the release manager records the go/no-go." in response.content.decode()
    release.refresh_from_db()
    assert release.status == Status.FROZEN
    page = client_for(cast.paul).get(release.get_absolute_url()).content.decode()
    assert 'id="decide-go"' not in page
