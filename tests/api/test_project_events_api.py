"""GET /api/projects/{slug}/events/: the project's audit log for members, filtered by kind and by
person, paged by cursor, in a flat number of queries; 404 to outsiders."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from approvals.services.policy import set_role_requirement, update_policy
from releases.services.projects import set_project_roles, update_project
from tests.api.conftest import bearer, project_token

pytestmark = pytest.mark.django_db

URL = "/api/projects/payments/events/"
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/SuperSecretPath42"


@pytest.fixture
def changes(cast):
    update_policy(cast.project, by=cast.rita, separation_of_duties=False)
    set_role_requirement(cast.project, by=cast.rita, release_kind="standard", role="qa", quorum=0)
    set_project_roles(cast.project, cast.dana, ["devops", "release_manager"], by=cast.rita)
    update_project(cast.project, by=cast.dana, slack_webhook_url=SLACK_URL)


@pytest.mark.parametrize("who", ["rita", "paul", "quinn", "dana", "devin", "vic"])
def test_it_lets_every_member_read_the_log(cast, changes, client_for, who):
    response = client_for(who).get(URL)

    assert response.status_code == 200
    kinds = [event["kind"] for event in response.json()["results"]]
    # Newest first: the four changes, then the cast joining and the project's creation.
    assert kinds[:4] == ["project", "membership", "approval_policy", "approval_policy"]
    assert kinds[-1] == "project"


@pytest.mark.parametrize(
    ("who", "status"), [("otto", 404), ("foreign_token", 404), ("anonymous", 401)]
)
def test_it_hides_the_log_from_outsiders(cast, changes, client_for, who, status):
    assert client_for(who).get(URL).status_code == status


def test_it_lets_the_projects_own_token_read_it_as_it_reads_everything_of_the_project(
    cast, changes
):
    assert bearer(project_token(cast)).get(URL).status_code == 200


def test_it_shows_who_what_before_after_and_when(cast, changes, client_for):
    body = client_for("vic").get(URL).json()
    quorum = next(e for e in body["results"] if e["before"] == {"quorum.standard.qa": 1})

    assert quorum["actor"] == "rita"
    assert quorum["actor_is_person"] is True
    assert quorum["kind"] == "approval_policy"
    assert quorum["action"] == "changed"
    assert quorum["after"] == {"quorum.standard.qa": 0}
    assert quorum["created_at"]
    assert quorum["summary"] == "QA sign-offs required on standard releases: 1 → 0"
    slack = body["results"][0]
    assert slack["after"] == {"slack_webhook_url": "credentials changed"}
    assert SLACK_URL not in str(body)


def test_it_filters_by_kind_and_by_person(cast, changes, client_for):
    client = client_for("vic")

    policy = client.get(URL, {"kind": "approval_policy"}).json()["results"]
    by_dana = client.get(URL, {"actor": "dana"}).json()["results"]
    both = client.get(URL, {"actor": "rita", "kind": "membership"}).json()["results"]

    assert [e["kind"] for e in policy] == ["approval_policy", "approval_policy"]
    assert [(e["actor"], e["kind"]) for e in by_dana] == [("dana", "project")]
    assert both[0]["after"] == {"roles": ["devops", "release_manager"]}
    assert {(e["actor"], e["kind"]) for e in both} == {("rita", "membership")}


def test_it_filters_by_a_machine_too(cast, client_for):
    update_project(cast.project, by="CI token bootstrap", description="Seeded")

    results = client_for("rita").get(URL, {"actor": "CI token bootstrap"}).json()["results"]

    assert [(e["actor"], e["actor_is_person"], e["kind"]) for e in results] == [
        ("CI token bootstrap", False, "project")
    ]


def test_it_answers_an_unknown_kind_with_a_field_error(cast, changes, client_for):
    response = client_for("rita").get(URL, {"kind": "everything"})

    assert response.status_code == 400
    assert "kind" in response.json()


def test_it_pages_by_cursor_without_gaps_or_repeats(cast, client_for):
    for n in range(7):
        update_project(cast.project, by=cast.rita, description=f"Revision {n}")
    client = client_for("vic")

    seen, url = [], f"{URL}?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [event["id"] for event in body["results"]]
        url = body["next"]

    # Seven changes, the cast's five members joining and the project's creation.
    assert len(seen) == len(set(seen)) == 13


@pytest.mark.parametrize("count", [2, 40])
def test_it_reads_a_page_in_the_same_few_queries_however_long_the_log(
    cast, django_assert_max_num_queries, count
):
    for n in range(count):
        update_project(cast.project, by=cast.rita, description=f"Revision {n}")
    client = APIClient()
    client.force_login(cast.vic)

    # The session and its user, the project, the membership, the page of events with actors.
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"actor": "rita"})
    # Rita's: the project's creation, the five members she added, her changes.
    assert len(response.json()["results"]) == min(count + 6, 50)


def test_it_is_described_in_the_schema(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/projects/{slug}/events/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"kind", "actor", "cursor", "slug"}
    assert operation["responses"]["404"]
