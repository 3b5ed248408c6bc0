"""Scope imported from a (stand-in) Jira fixVersion on the new-release page, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from monitoring.services.integrations import save_integration
from releases.models import Release
from tests.builders import make_cast
from tests.monitoring.jira_standin import jira_stand_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(transactional_db):
    return make_cast()


def test_rita_imports_the_scope_from_a_jira_fix_version_when_she_creates_the_release(
    cast, open_as, live_server
):
    with jira_stand_in() as jira:
        save_integration(
            cast.project,
            by=cast.rita,
            name="Jira",
            kind="jira",
            base_url=jira.url,
            config={"project_key": "PAY"},
            secrets={"email": "rita@example.com", "token": "atl-token"},
        )
        rita = open_as(cast.rita, "/releases/new/?project=payments")
        rita.locator("#id_version").fill("1.2.0")
        rita.get_by_label("Import the scope from").select_option(label="Jira")
        rita.locator("#id_tracker-source").select_option("fix_version")
        rita.get_by_label("Release the Jira version once this release is released").check()
        rita.get_by_role("button", name="Create the release").click()

        expect(rita.locator("#release-title")).to_contain_text("1.2.0")
        scope = rita.locator("#sec-scope")
        for title in ("Refunds", "Crash on checkout", "Card vault upgrade"):
            expect(scope).to_contain_text(title)
        trackers = rita.locator("#sec-trackers")
        expect(trackers).to_contain_text("Jira fixVersion 1.2.0")
        expect(trackers.locator("[data-testid=not-done]")).to_have_count(2)
        expect(rita.locator("[data-testid=readiness]").locator("..")).to_be_visible()

    release = Release.objects.get(version="1.2.0")
    assert sorted(release.scope_items.values_list("key", flat=True)) == ["PAY-1", "PAY-2", "PAY-3"]
    assert release.scope_sources.get().release_version
    searches = [s for s in jira.seen if s.path == "/rest/api/3/search/jql"]
    assert searches[0].query["jql"] == ['project = "PAY" AND fixVersion = "1.2.0"']
