"""Ticking a checklist item that requires evidence, as a person does it in the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from releases.models import Evidence
from tests.builders import make_cast, make_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_it_tells_quinn_a_link_is_needed_and_ticks_once_she_adds_it(cast, open_as, live_server):
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    template.evidence_required = Evidence.LINK
    template.save(update_fields=["evidence_required"])
    release = make_release(cast, "5.0.0")
    item = release.checklist_items.get(template=template)

    quinn = open_as(cast.quinn, release.get_absolute_url())
    row = quinn.locator(f"#item-{item.pk}")
    expect(row.locator(f"#item-{item.pk}-needs")).to_have_text("Ticking it needs a link.")

    row.get_by_label("Evidence note for “Critical flows pass”").fill("Regression suite green")
    row.get_by_role("button", name="Tick").click()
    row = quinn.locator(f"#item-{item.pk}")
    expect(row.locator(f"#tick{item.pk}-url-error")).to_have_text(
        "This item needs a link to its evidence (a test report, a dashboard…) "
        "before it can be ticked."
    )
    # What she typed is still there; only the link is missing.
    expect(row.get_by_label("Evidence note for “Critical flows pass”")).to_have_value(
        "Regression suite green"
    )
    item.refresh_from_db()
    assert item.ticked_at is None

    row.get_by_label("Evidence link for “Critical flows pass”").fill(
        "https://ci.example.com/payments/runs/812"
    )
    row.get_by_role("button", name="Tick").click()
    row = quinn.locator(f"#item-{item.pk}")
    expect(row.locator(".evidence")).to_contain_text("Regression suite green")
    expect(row.get_by_role("link", name="evidence")).to_have_attribute(
        "href", "https://ci.example.com/payments/runs/812"
    )
    item.refresh_from_db()
    assert item.ticked_by == cast.quinn
    assert item.evidence_url == "https://ci.example.com/payments/runs/812"
