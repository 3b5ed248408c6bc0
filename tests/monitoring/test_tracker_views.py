"""The release page's tracker and commit range card, the review's list, and the new-release
page's import: the same services behind buttons."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitoring.models import ScopeSource
from monitoring.services import commit_range as ranges
from monitoring.services.integrations import save_integration
from releases.models import Release, ScopeChangeRequest
from tests.builders import HEAD, compare_commits, make_ready, make_release
from tests.monitoring.fakes import Answer, FakeProvider
from tests.monitoring.helpers import recorded
from tests.monitoring.jira_standin import jira_stand_in


@pytest.fixture
def unplanned(cast, committed):
    """1.1.0, locked, with one unplanned commit since 1.0.0."""
    body = recorded("github", "compare_one_unplanned")
    with FakeProvider(lambda seen: Answer(body=body)) as github:
        compare_commits(cast, github.url)
        yield committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)


@pytest.fixture
def jira(cast):
    with jira_stand_in() as stand_in:
        save_integration(
            cast.project,
            by=cast.rita,
            name="Jira",
            kind="jira",
            base_url=stand_in.url,
            config={"project_key": "PAY"},
            secrets={"email": "rita@example.com", "token": "atl-token"},
        )
        yield stand_in


def test_it_shows_the_unplanned_change_and_offers_product_its_acceptance(client, cast, unplanned):
    client.force_login(cast.paul)
    page = client.get(unplanned.get_absolute_url()).content.decode()
    assert 'id="sec-trackers"' in page
    assert "Raise the payment gateway timeout" in page
    assert 'data-testid="unplanned"' in page
    assert "Accept as part of this release (Product)" in page
    assert "1 unplanned change since the previous release" in page


def test_it_accepts_an_unplanned_change_from_the_page(client, cast, unplanned):
    change = unplanned.commit_range.changes.get(ref="4444444444")
    url = reverse("unplanned_change_accept", args=[unplanned.pk, change.pk])
    client.force_login(cast.paul)
    response = client.post(url, {"as_role": "product"})
    assert response.status_code == 302
    assert response["Location"].endswith("#sec-trackers")
    client.force_login(cast.rita)
    client.post(url, {"as_role": "release_manager"})
    change.refresh_from_db()
    assert change.accepted
    page = client.get(unplanned.get_absolute_url()).content.decode()
    assert "Accepted as part of the release" in page


def test_it_refuses_the_acceptance_to_a_developer(client, cast, unplanned):
    change = unplanned.commit_range.changes.get(ref="4444444444")
    client.force_login(cast.devin)
    url = reverse("unplanned_change_accept", args=[unplanned.pk, change.pk])
    assert client.post(url, {"as_role": "product"}).status_code == 403


def test_it_requests_a_scope_change_for_an_unplanned_change(client, cast, unplanned):
    change = unplanned.commit_range.changes.get(ref="4444444444")
    client.force_login(cast.dana)
    client.post(
        reverse("unplanned_change_request", args=[unplanned.pk, change.pk]),
        {"reason": "Needed under load."},
    )
    request = ScopeChangeRequest.objects.get(release=unplanned)
    assert request.reason == "Needed under load."


def test_the_review_lists_changes_outside_the_planned_scope(client, cast, unplanned):
    change = unplanned.commit_range.changes.get(ref="4444444444")
    ranges.accept_unplanned_change(change, by=cast.paul, as_role="product")
    ranges.accept_unplanned_change(change, by=cast.rita, as_role="release_manager")
    Release.objects.filter(pk=unplanned.pk).update(status="released")
    client.force_login(cast.rita)
    page = client.get(unplanned.get_absolute_url()).content.decode()
    assert 'data-testid="review-unplanned"' in page
    assert "accepted as part of the release by Product and the release manager" in page


def test_the_new_release_page_imports_the_scope_from_jira(client, cast, jira, committed):
    client.force_login(cast.rita)
    page = client.get(reverse("release_create")).content.decode()
    assert 'data-testid="tracker-import"' in page
    integration = cast.project.integrations.get(name="Jira")
    response = committed(
        client.post,
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": "1.2.0",
            "kind": "standard",
            "environment": "production",
            "tracker-integration": integration.pk,
            "tracker-source": "fix_version",
            "tracker-query": "",
            "tracker-auto_sync": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    release = Release.objects.get(version="1.2.0")
    assert sorted(release.scope_items.values_list("key", flat=True)) == ["PAY-1", "PAY-2", "PAY-3"]
    assert ScopeSource.objects.get(release=release).query == "1.2.0"


def test_the_new_release_page_says_why_nothing_was_imported(client, cast, jira, committed):
    client.force_login(cast.rita)
    integration = cast.project.integrations.get(name="Jira")
    committed(
        client.post,
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": "1.2.0",
            "kind": "standard",
            "environment": "production",
            "tracker-integration": integration.pk,
            "tracker-source": "label",
        },
    )
    release = Release.objects.get(version="1.2.0")
    page = client.get(release.get_absolute_url()).content.decode()
    assert (
        "The scope was not imported: Jira imports from: Jira fixVersion, Jira JQL search." in page
    )


def test_a_viewer_cannot_import(client, cast, jira):
    release = make_release(cast, "1.2.0", scope=0)
    integration = cast.project.integrations.get(name="Jira")
    client.force_login(cast.vic)
    response = client.post(
        reverse("scope_source_add", args=[release.pk]),
        {"tracker-integration": integration.pk, "tracker-source": "jql", "tracker-query": "x"},
    )
    assert response.status_code == 403
    assert not ScopeSource.objects.exists()


def test_it_imports_and_syncs_from_the_release_page(client, cast, jira, committed):
    release = make_release(cast, "1.2.0", scope=0)
    integration = cast.project.integrations.get(name="Jira")
    client.force_login(cast.devin)
    committed(
        client.post,
        reverse("scope_source_add", args=[release.pk]),
        {
            "tracker-integration": integration.pk,
            "tracker-source": "jql",
            "tracker-query": "labels = payments",
        },
    )
    source = ScopeSource.objects.get(release=release)
    assert release.scope_items.count() == 3
    jira.set_status("PAY-2", "Done", "done")
    client.post(reverse("scope_source_sync", args=[release.pk, source.pk]))
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Synced Jira JQL search labels = payments: nothing changed." in page
    assert page.count('data-testid="not-done"') == 1
