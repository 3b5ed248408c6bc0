"""The gate endpoint CI asks with a project token, and the gate's settings over the API."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from gate.models import GitHubApp
from gate.services.answer import VERB
from releases.models import ReleaseEvent
from tests.builders import make_approved, make_release
from tests.gate.stand_ins import rsa_key_pair

pytestmark = pytest.mark.django_db

SHA = "a" * 40
URL = "/api/projects/payments/gate/"


@pytest.fixture(autouse=True)
def _no_rate_limits() -> None:
    cache.clear()


def test_it_answers_a_project_token_and_logs_the_question(cast, client_for) -> None:
    release = make_approved(make_release(cast), cast)

    response = client_for("own_token").post(
        URL, {"sha": SHA.upper(), "environment": "production"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "state": "go",
        "sha": SHA,
        "environment": "production",
        "release": release.pk,
        "release_name": str(release),
        "blockers": [],
        "detail": f"Go: {release} (commit {SHA[:12]} to production) may deploy now.",
    }
    event = ReleaseEvent.objects.get(release=release, verb=VERB)
    assert event.actor_label == "CI token deploy-bot"


def test_it_names_the_blockers_of_a_waiting_deploy(cast, client_for) -> None:
    make_release(cast)

    body = client_for("dana").post(URL, {"sha": SHA, "environment": "production"}).json()

    assert body["state"] == "wait"
    assert body["allowed"] is False
    assert body["blockers"][0] == "the scope is not locked and there is no Go decision yet"


@pytest.mark.parametrize(
    ("who", "status"), [("otto", 404), ("foreign_token", 404), ("anonymous", 401)]
)
def test_it_answers_nobody_outside_the_project(cast, client_for, who, status) -> None:
    make_approved(make_release(cast), cast)

    response = client_for(who).post(URL, {"sha": SHA, "environment": "production"})

    assert response.status_code == status
    assert not ReleaseEvent.objects.filter(verb=VERB).exists()


def test_it_refuses_bad_input_with_field_errors(cast, client_for) -> None:
    client = client_for("own_token")

    bad_sha = client.post(URL, {"sha": "main", "environment": "production"}, format="json")
    unknown = client.post(
        URL, {"sha": SHA, "environment": "production", "force": True}, format="json"
    )
    missing = client.post(URL, {"sha": SHA}, format="json")

    assert bad_sha.status_code == 400
    assert "sha" in bad_sha.json()
    assert unknown.status_code == 400
    assert "force" in unknown.json()
    assert missing.status_code == 400
    assert "environment" in missing.json()


def test_devops_sets_up_the_github_app_and_nobody_reads_its_credentials(cast, client_for) -> None:
    pem, _ = rsa_key_pair()
    body = {
        "app_id": "Iv1.8a61f9b3a7aba766",
        "slug": "greenlight-gate",
        "repository": "acme/payments",
        "private_key": pem,
        "webhook_secret": "s3cret",
    }

    response = client_for("dana").put(URL + "github-app/", body, format="json")

    assert response.status_code == 200
    app = GitHubApp.objects.get()
    assert response.json() == {
        "app_id": "Iv1.8a61f9b3a7aba766",
        "slug": "greenlight-gate",
        "api_url": "https://api.github.com",
        "repository": "acme/payments",
        "webhook_url": f"http://127.0.0.1:8000/webhooks/gate/github/{app.pk}/",
        "stored_secrets": ["private_key", "webhook_secret"],
    }
    read = client_for("vic").get(URL + "github-app/").json()
    assert "private_key" not in read
    assert "s3cret" not in str(read)


@pytest.mark.parametrize("who", ["paul", "vic", "own_token"])
def test_only_devops_and_release_managers_set_up_the_github_app(cast, client_for, who) -> None:
    response = client_for(who).put(URL + "github-app/", {"app_id": "1"}, format="json")

    assert response.status_code == 403
    assert not GitHubApp.objects.exists()


def test_a_github_app_needs_a_real_private_key(cast, client_for) -> None:
    response = client_for("rita").put(
        URL + "github-app/",
        {"app_id": "1", "private_key": "not a key", "webhook_secret": "s"},
        format="json",
    )

    assert response.status_code == 400
    assert "private_key" in response.json()


def test_gitlab_approvals_take_one_of_the_projects_gitlab_integrations(cast, client_for) -> None:
    client = client_for("dana")
    gitlab = client.post(
        "/api/projects/payments/integrations/",
        {
            "name": "GitLab",
            "kind": "gitlab",
            "config": {"project": "7"},
            "secrets": {"token": "glpat-x"},
        },
        format="json",
    ).json()

    refused = client.put(URL + "gitlab-approvals/", {"integration": cast.ci.pk}, format="json")
    taken = client.put(URL + "gitlab-approvals/", {"integration": gitlab["id"]}, format="json")

    assert refused.status_code == 400
    assert taken.json() == {"integration": gitlab["id"]}
    assert client_for("vic").get(URL + "gitlab-approvals/").json() == {"integration": gitlab["id"]}
