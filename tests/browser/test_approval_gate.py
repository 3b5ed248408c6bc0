"""The go/no-go gate in a real browser: Rita cannot approve her own release, and a No-go after
the Go pulls the approval back on her open pages without a reload."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from approvals.models import CREATOR_SIGNS, SignOff
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.sign_offs import record_sign_off
from releases.models import Release, RoleAssignment, Status
from releases.services.lifecycle import lock_scope
from tests.builders import (
    complete_rollback_plan,
    make_cast,
    make_release,
    pass_checks,
    tick_readiness,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


@pytest.fixture
def release(cast):
    release = make_release(cast, "3.0.0")
    lock_scope(release, by=cast.rita)
    return release


def test_it_refuses_rita_approving_her_own_release_in_the_policys_words(
    cast, release, open_as, live_server, shoot
):
    url = release.get_absolute_url()
    rita = open_as(cast.rita, url)
    rita.get_by_text("Who holds which role on this release").click()
    rita.get_by_label("Person").select_option(str(cast.rita.pk))
    rita.get_by_label("Role").select_option("qa")
    rita.locator("#assign-role").click()
    expect(rita.locator("#sec-signoffs")).to_contain_text(
        "You cannot make yourself QA on a release you created"
    )
    assert not RoleAssignment.objects.filter(release=release, user=cast.rita, role="qa").exists()

    # An administrator puts her on QA anyway: her Go is still not hers to give.
    admin = get_user_model().objects.create_superuser("ada", "ada@example.com", "x")
    assign_role(release, cast.rita, "qa", by=admin)
    rita.goto(f"{live_server.url}{url}")
    rita.locator("#role-qa").get_by_role("button", name="Go as QA", exact=True).click()
    expect(rita.locator("#sec-signoffs")).to_contain_text(CREATOR_SIGNS)
    assert not SignOff.objects.filter(user=cast.rita).exists()
    expect(rita.locator("[data-testid=role-state-qa]")).not_to_have_text("Go")

    shoot(rita, "own-release-rita", release)


def test_it_pulls_the_approval_back_live_when_paul_says_no_go_after_the_go(
    cast, release, open_as, live_server, shoot
):
    url = release.get_absolute_url()
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)
    for person, role in [(cast.devin, "dev"), (cast.dana, "devops")]:
        record_sign_off(release, by=person, role=role, decision="go")

    for person, role, label in [(cast.quinn, "qa", "QA"), (cast.paul, "product", "Product")]:
        page = open_as(person, url)
        page.locator(f"#role-{role}").get_by_role(
            "button", name=f"Go as {label}", exact=True
        ).click()
        expect(page.locator(f"[data-testid=role-state-{role}]")).to_have_text("Go")
        # Done with it: an open release page fetches its sections again on every change.
        page.close()
    record_decision(release, by=cast.rita, outcome="go")

    rita = open_as(cast.rita)
    expect(rita.locator(f"#release-{release.pk}")).to_contain_text("Approved")
    deploy_page = open_as(cast.rita, url)
    expect(deploy_page.locator("#do-start_deploy")).to_be_visible()

    paul = open_as(cast.paul, url)
    row = paul.locator("#role-product")
    row.get_by_label("Comment").fill("Legal has not cleared the new terms")
    row.get_by_role("button", name="No-go as Product", exact=True).click()
    expect(paul.locator("[data-testid=role-state-product]")).to_have_text("No-go")

    assert Release.objects.get(pk=release.pk).status == Status.FROZEN
    # Both of Rita's open pages catch up without a reload.
    expect(rita.locator(f"#release-{release.pk}")).to_contain_text("Scope frozen", timeout=15_000)
    expect(rita.locator(f"#release-{release.pk}")).not_to_contain_text("Approved")
    expect(deploy_page.locator("#do-start_deploy")).to_have_count(0, timeout=15_000)
    expect(deploy_page.locator("[data-testid=status]")).to_have_text("Scope frozen")

    shoot(rita, "no-go-rita", release)
