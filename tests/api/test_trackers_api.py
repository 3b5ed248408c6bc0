"""The API's door to the tracker import and the commit range: the same services and rules."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import ScopeSource
from monitoring.services.integrations import save_integration
from tests.builders import HEAD, compare_commits, make_ready, make_release
from tests.monitoring.fakes import Answer, FakeProvider
from tests.monitoring.helpers import recorded
from tests.monitoring.jira_standin import jira_stand_in


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def jira(cast):
    with jira_stand_in() as stand_in:
        stand_in.integration = save_integration(
            cast.project,
            by=cast.rita,
            name="Jira",
            kind="jira",
            base_url=stand_in.url,
            secrets={"email": "rita@example.com", "token": "atl-token"},
        )
        yield stand_in


@pytest.fixture
def unplanned(cast, committed):
    body = recorded("github", "compare_one_unplanned")
    with FakeProvider(lambda seen: Answer(body=body)) as github:
        compare_commits(cast, github.url)
        yield committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)


def test_it_imports_lists_and_syncs_scope_sources(cast, jira, committed):
    release = make_release(cast, "1.2.0", scope=0)
    client = signed_in(cast.paul)
    url = f"/api/releases/{release.pk}/scope-sources/"
    created = committed(
        client.post,
        url,
        {"integration": jira.integration.pk, "source": "fix_version"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["query"] == "1.2.0"
    assert release.scope_items.count() == 3
    (listed,) = client.get(url).json()["results"]
    assert listed["integration_name"] == "Jira"
    jira.add("PAY-4", "Chargebacks")
    synced = client.post(url + "sync/", {"source": listed["id"]}, format="json")
    assert synced.status_code == 200
    assert synced.json()["added"] == ["PAY-4"]
    jira.failure = Answer(status=401, body={"errorMessages": ["Unauthorized"]})
    failed = client.post(url + "sync/", {"source": listed["id"]}, format="json").json()
    assert failed["synced"] is False
    assert "credentials were rejected" in failed["error"]


def test_it_refuses_bad_import_input_with_field_errors(cast, jira):
    release = make_release(cast, "1.2.0", scope=0)
    client = signed_in(cast.rita)
    url = f"/api/releases/{release.pk}/scope-sources/"
    wrong = client.post(url, {"integration": cast.ci.pk, "source": "jql"}, format="json")
    assert wrong.status_code == 400
    assert "integration" in wrong.json()
    stray = client.post(
        url, {"integration": jira.integration.pk, "source": "jql", "colour": 1}, format="json"
    )
    assert stray.status_code == 400
    assert "colour" in stray.json()
    assert not ScopeSource.objects.exists()


def test_a_viewer_is_refused_the_import(cast, jira):
    release = make_release(cast, "1.2.0", scope=0)
    response = signed_in(cast.vic).post(
        f"/api/releases/{release.pk}/scope-sources/",
        {"integration": jira.integration.pk, "source": "jql", "query": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert "import scope from a tracker" in response.json()["detail"]


def test_it_reads_the_commit_range_and_clears_an_unplanned_change(cast, unplanned):
    url = f"/api/releases/{unplanned.pk}/commit-range/"
    body = signed_in(cast.vic).get(url).json()
    assert body["base_version"] == "1.0.0"
    assert [(c["ref"], c["unplanned"]) for c in body["changes"]] == [
        ("#42", False),
        ("4444444444", True),
    ]
    change = body["changes"][1]["id"]
    assert (
        signed_in(cast.paul)
        .post(url + "accept/", {"change": change, "as_role": "product"}, format="json")
        .status_code
        == 200
    )
    refused = signed_in(cast.paul).post(
        url + "accept/", {"change": change, "as_role": "release_manager"}, format="json"
    )
    assert refused.status_code == 403
    done = signed_in(cast.rita).post(
        url + "accept/", {"change": change, "as_role": "release_manager"}, format="json"
    )
    assert done.json()["changes"][1]["unplanned"] is False
    readiness = signed_in(cast.rita).get(f"/api/releases/{unplanned.pk}/readiness/").json()
    assert not [b for b in readiness["blockers"] if b["kind"] == "unplanned_change"]


def test_it_requests_a_scope_change_for_an_unplanned_change(cast, unplanned):
    url = f"/api/releases/{unplanned.pk}/commit-range/"
    change = signed_in(cast.rita).get(url).json()["changes"][1]["id"]
    response = signed_in(cast.devin).post(
        url + "change-request/", {"change": change, "reason": "Needed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["changes"][1]["change_request"] is not None


def test_it_answers_404_before_the_commits_were_compared(cast, release):
    response = signed_in(cast.rita).get(f"/api/releases/{release.pk}/commit-range/")
    assert response.status_code == 404
    read = signed_in(cast.rita).post(f"/api/releases/{release.pk}/commit-range/read/")
    assert read.status_code == 409
