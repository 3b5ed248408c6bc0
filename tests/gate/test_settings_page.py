"""The project's deploy gate settings page: the GitHub App and GitLab approvals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gate.models import GitHubApp, GitLabApprovals
from monitoring.services.integrations import save_integration
from tests.gate.stand_ins import rsa_key_pair

pytestmark = pytest.mark.django_db

URL = reverse("gate_settings", args=["payments"])


def test_devops_sets_up_the_github_app_on_the_page(client, cast) -> None:
    pem, _ = rsa_key_pair()
    client.force_login(cast.dana)

    response = client.post(
        URL,
        {
            "action": "github",
            "app_id": "Iv1.8a61f9b3a7aba766",
            "slug": "greenlight-gate",
            "repository": "acme/payments",
            "private_key": pem,
            "webhook_secret": "s3cret",
        },
    )

    assert response.status_code == 302
    app = GitHubApp.objects.get()
    page = client.get(URL).content.decode()
    assert f"http://127.0.0.1:8000/webhooks/gate/github/{app.pk}/" in page
    assert "private_key, webhook_secret" in page
    assert "s3cret" not in page
    assert "PRIVATE KEY" not in page


def test_it_shows_a_field_error_for_a_key_that_is_not_one(client, cast) -> None:
    client.force_login(cast.rita)

    response = client.post(
        URL,
        {"action": "github", "app_id": "1", "private_key": "nope", "webhook_secret": "s"},
    )

    assert response.status_code == 200
    assert "This is not an RSA private key" in response.content.decode()
    assert not GitHubApp.objects.exists()


def test_devops_chooses_the_gitlab_integration_that_approves(client, cast) -> None:
    gitlab = save_integration(
        cast.project,
        by=cast.dana,
        name="GitLab",
        kind="gitlab",
        config={"project": "7"},
        secrets={"token": "glpat-x"},
    )
    client.force_login(cast.dana)

    client.post(URL, {"action": "gitlab", "integration": gitlab.pk})
    assert GitLabApprovals.objects.get().integration == gitlab
    client.post(URL, {"action": "gitlab", "integration": ""})
    assert not GitLabApprovals.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("paul", 403), ("vic", 403), ("otto", 404)])
def test_only_devops_and_release_managers_change_it(client, cast, who, status) -> None:
    client.force_login(getattr(cast, who))

    response = client.post(URL, {"action": "github", "app_id": "1"})

    assert response.status_code == status
    assert not GitHubApp.objects.exists()


def test_members_read_it(client, cast) -> None:
    client.force_login(cast.vic)

    page = client.get(URL)

    assert page.status_code == 200
    assert 'id="gate-github-save"' not in page.content.decode()
