"""The workspace in a real browser: ticks, sign-offs, scope changes and read-only access."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from approvals.models import SignOff
from approvals.services.sign_offs import record_sign_off
from releases.models import ChecklistItem, ChecklistTemplate, Phase, Role, ScopeChangeRequest
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import lock_scope
from tests.browser.conftest import csrf_token
from tests.builders import make_cast, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    cast = make_cast()
    # Two readiness items for QA, so Quinn has two to tick.
    ChecklistTemplate.objects.create(
        project=cast.project,
        phase=Phase.READINESS,
        title="Regression suite green",
        owner_role=Role.QA,
        position=5,
    )
    return cast


@pytest.fixture
def release(cast):
    return make_release(cast, "2.5.0", scope=2)


def readiness_of(page, release) -> int:
    text = page.locator(f"#release-{release.pk} [data-testid=readiness]").inner_text()
    return int(text.rstrip("%"))


def test_it_shows_quinns_ticks_on_ritas_dashboard_without_a_reload(
    cast, release, open_as, live_server, shoot
):
    rita = open_as(cast.rita)
    before = readiness_of(rita, release)
    rita.evaluate("window.stillTheSamePage = true")

    quinn = open_as(cast.quinn, release.get_absolute_url())
    for title, note in [
        ("Critical flows pass", "All flows pass on staging"),
        ("Regression suite green", "Run 4812 green"),
    ]:
        item = ChecklistItem.objects.get(release=release, title=title)
        row = quinn.locator(f"#item-{item.pk}")
        row.get_by_label(f"Evidence note for “{title}”").fill(note)
        row.get_by_label(f"Evidence link for “{title}”").fill(f"https://ci.example.com/{item.pk}")
        row.get_by_role("button", name="Tick").click()
        expect(quinn.locator(f"#item-{item.pk}")).to_contain_text("Ticked by Quinn")
        expect(quinn.locator(f"#item-{item.pk}")).to_contain_text(note)
        # The swap keeps keyboard focus on the item's button.
        expect(quinn.locator(f"#item-{item.pk}-toggle")).to_be_focused()

    ticked = ChecklistItem.objects.filter(release=release, ticked_by=cast.quinn)
    assert ticked.count() == 2
    # Rita's dashboard polls: the figure moves while her page stays the same page.
    expect(rita.locator(f"#release-{release.pk} [data-testid=readiness]")).not_to_have_text(
        f"{before}%", timeout=15_000
    )
    assert readiness_of(rita, release) > before
    assert rita.evaluate("window.stillTheSamePage") is True

    shoot(quinn, "tick-quinn", release)
    shoot(rita, "tick-rita", release)


def test_it_lets_paul_give_go_and_refuses_devin_signing_for_product(
    cast, release, open_as, live_server, shoot
):
    lock_scope(release, by=cast.rita)
    url = release.get_absolute_url()

    paul = open_as(cast.paul, url)
    row = paul.locator("#role-product")
    row.get_by_label("Comment").fill("Scope matches the launch plan")
    row.get_by_role("button", name="Go as Product", exact=True).click()
    expect(paul.locator("[data-testid=role-state-product]")).to_have_text("Go")
    expect(paul.locator("#sec-signoffs")).to_contain_text("Scope matches the launch plan")

    devin = open_as(cast.devin, url)
    expect(devin.get_by_role("button", name="Go as Developer", exact=True)).to_be_visible()
    expect(devin.get_by_role("button", name="Go as Product", exact=True)).to_have_count(0)
    forged = devin.request.post(
        f"{live_server.url}/releases/{release.pk}/sign-off/",
        form={"role": "product", "decision": "go", "comment": "forged"},
        headers={"X-CSRFToken": csrf_token(devin), "HX-Request": "true"},
    )
    assert forged.status == 403
    assert "You are not assigned as Product on this release" in forged.text()
    assert not SignOff.objects.filter(user=cast.devin).exists()
    assert SignOff.objects.current().get(role="product").user == cast.paul

    shoot(paul, "signoff-paul", release)
    shoot(devin, "signoff-devin", release)


def test_it_runs_a_scope_change_through_product_and_the_release_manager_and_stales_sign_offs(
    cast, release, open_as, live_server, shoot
):
    url = release.get_absolute_url()
    rita = open_as(cast.rita, url)
    rita.get_by_role("button", name="Lock scope").click()
    expect(rita.locator("[data-testid=status]")).to_have_text("Scope frozen")

    record_sign_off(release, by=cast.quinn, role="qa", decision="go", comment="Tested")
    record_sign_off(release, by=cast.dana, role="devops", decision="go")

    devin = open_as(cast.devin, url)
    expect(devin.locator("[data-testid=signoff-qa-quinn]")).to_have_text("Go")
    devin.get_by_text("Request a scope change").click()
    form = devin.locator("#sec-scope form").filter(has=devin.get_by_label("Reason"))
    form.get_by_label("Action").select_option("add")
    form.get_by_label("Title").fill("Show the card brand on receipts")
    form.get_by_label("Kind").select_option("fix")
    form.get_by_label("Reason").fill("Merchants asked; the change is two lines")
    form.get_by_role("button", name="Request the change").click()
    expect(devin.locator("#sec-scope")).to_contain_text(
        "Change requested: Product and the release manager decide."
    )
    change = ScopeChangeRequest.objects.get()

    paul = open_as(cast.paul, url)
    paul.locator(f"#change-{change.pk}").get_by_role("button", name="Accept as Product").click()
    expect(paul.locator("#sec-scope")).to_contain_text("Accepted; waiting for the other side.")
    # Done with it: an open release page fetches its sections again on every change.
    paul.close()

    rita.goto(f"{live_server.url}{url}")
    rita.locator(f"#change-{change.pk}").get_by_role(
        "button", name="Accept as Release manager"
    ).click()
    expect(rita.locator("#sec-scope")).to_contain_text("Accepted and applied.")
    expect(rita.locator("#sec-scope")).to_contain_text("Added after freeze")
    # The go/no-go section refreshes on its own and shows the earlier sign-offs as stale.
    expect(rita.locator("[data-testid=signoff-qa-quinn]")).to_have_text("Stale")
    expect(rita.locator("[data-testid=signoff-devops-dana]")).to_have_text("Stale")
    expect(rita.locator("#sec-signoffs")).to_contain_text("No longer counts: a scope change")
    # Devin's open page catches up without a reload too.
    expect(devin.locator("[data-testid=signoff-qa-quinn]")).to_have_text("Stale", timeout=15_000)

    shoot(rita, "scope-rita", release)
    shoot(devin, "scope-devin", release)


def test_it_shows_vic_everything_and_lets_him_change_nothing(
    cast, release, open_as, live_server, shoot
):
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.paul, role="product", decision="go")
    item = ChecklistItem.objects.get(release=release, title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn, note="Seen on staging")

    vic = open_as(cast.vic)
    expect(vic.locator(f"#release-{release.pk}")).to_contain_text("Payments 2.5.0")
    expect(vic.get_by_role("link", name="New release")).to_have_count(0)
    vic.goto(f"{live_server.url}{release.get_absolute_url()}")
    for section, heading in [
        ("signoffs", "Go/no-go"),
        ("checklists", "Checklists"),
        ("scope", "Scope"),
        ("checks", "Checks"),
        ("rollback", "Rollback plan"),
        ("events", "Timeline"),
    ]:
        expect(vic.locator(f"#sec-{section} h2")).to_contain_text(heading)
    expect(vic.locator("#sec-checklists")).to_contain_text("Seen on staging")
    expect(vic.locator("[data-testid=role-state-product]")).to_have_text("Go")
    expect(vic.locator("#sec-header")).to_contain_text("read-only access")
    expect(vic.locator("main form")).to_have_count(0)
    expect(vic.locator("main button")).to_have_count(0)

    other = ChecklistItem.objects.get(release=release, title="Regression suite green")
    forged = vic.request.post(
        f"{live_server.url}/releases/{release.pk}/checklist/{other.pk}/tick/",
        form={},
        headers={"X-CSRFToken": csrf_token(vic)},
    )
    assert forged.status == 403
    other.refresh_from_db()
    assert other.ticked_at is None

    shoot(vic, "viewer-vic", release)
