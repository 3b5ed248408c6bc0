"""The release page offers only what the server would accept; what it would refuse is shown
disabled, with the server's own reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from approvals.services.decisions import open_poll
from approvals.services.deploy import assign_role
from approvals.services.sign_offs import record_sign_off
from releases.models import ChecklistItem, Phase
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import lock_scope
from tests.builders import make_cast, make_deploying, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_it_disables_a_second_roles_sign_off_with_the_reason(cast, open_as, live_server):
    release = make_release(cast, "4.0.0")
    assign_role(release, cast.quinn, "dev", by=cast.rita)
    lock_scope(release, by=cast.rita)
    open_poll(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role="qa", decision="go")

    quinn = open_as(cast.quinn, release.get_absolute_url())
    # Her own role's sign-off can still be changed; the second role's cannot be given.
    expect(quinn.locator("#sign-qa-no_go")).to_be_enabled()
    expect(quinn.locator("#sign-dev-go")).to_be_disabled()
    expect(quinn.locator("#sign-dev-no_go")).to_be_disabled()
    expect(quinn.get_by_test_id("sign-refusal-dev")).to_have_text(
        "You already signed as QA; one person gives at most one role's sign-off on a release."
    )
    # Devin, who signed nothing, is offered his buttons.
    devin = open_as(cast.devin, release.get_absolute_url())
    expect(devin.locator("#sign-dev-go")).to_be_enabled()
    expect(devin.get_by_test_id("sign-refusal-dev")).to_have_count(0)


def test_it_disables_deploy_done_while_deployment_items_are_open(cast, open_as, live_server):
    release = make_deploying(make_release(cast, "4.1.0"), cast)
    dana = open_as(cast.dana, release.get_absolute_url())
    done = dana.locator("#do-finish_deploy")
    expect(done).to_be_disabled()
    expect(dana.locator("#note-finish_deploy")).to_have_text(
        "Cannot mark the deploy done: 1 required deployment checklist item is not ticked: "
        "Smoke test in production."
    )

    item = ChecklistItem.objects.get(release=release, phase=Phase.DEPLOYMENT, required=True)
    tick_checklist_item(item, by=cast.dana)
    dana.reload()
    expect(done).to_be_enabled()
    expect(dana.locator("#note-finish_deploy")).to_have_count(0)
    done.click()
    expect(dana.locator("#do-finish_deploy")).to_have_count(0)
    release.refresh_from_db()
    assert release.status == "monitoring"
