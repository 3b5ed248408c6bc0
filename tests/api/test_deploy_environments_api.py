"""The project's deploy environments through the API, and deploy reports that name one."""

from __future__ import annotations

import pytest

from releases.models import Project, Release, Status
from tests.api.conftest import bearer, project_token
from tests.builders import make_approved, make_deploying, make_release

pytestmark = pytest.mark.django_db

URL = "/api/projects/payments/deploy-environments/"


def test_it_shows_and_replaces_the_mapping(cast, client_for):
    rita = client_for("rita")

    saved = rita.put(
        URL, {"deploy_environments": {"Prod": "production", "github-pages": ""}}, format="json"
    )

    assert saved.status_code == 200, saved.json()
    assert saved.json() == {"deploy_environments": {"github-pages": "", "prod": "production"}}
    assert client_for("vic").get(URL).json() == saved.json()
    assert Project.objects.get(pk=cast.project.pk).environment_for("PROD") == "production"


@pytest.mark.parametrize("who", ["vic", "dana", "own_token"])
def test_only_release_managers_change_it(cast, client_for, who):
    response = client_for(who).put(URL, {"deploy_environments": {"prod": "x"}}, format="json")

    assert response.status_code == 403
    assert Project.objects.get(pk=cast.project.pk).deploy_environments == {}


@pytest.mark.parametrize(
    "body",
    [
        {"deploy_environments": "prod=production"},
        {"deploy_environments": {"prod": "p" * 61}},
        {"deploy_environments": {" ": "production"}},
        {},
    ],
    ids=["not-a-mapping", "too-long", "blank-name", "missing"],
)
def test_bad_input_answers_400_and_changes_nothing(cast, client_for, body):
    response = client_for("rita").put(URL, body, format="json")

    assert response.status_code == 400
    assert "deploy_environments" in response.json()
    assert Project.objects.get(pk=cast.project.pk).deploy_environments == {}


class TestDeployReports:
    def test_a_report_for_another_environment_moves_nothing(self, cast):
        release = make_approved(make_release(cast, "4.0.0"), cast)
        ci = bearer(project_token(cast, name="deployer"))

        response = ci.post(
            f"/api/releases/{release.pk}/deploy-reports/",
            {"stage": "started", "environment": "staging"},
        )

        assert response.status_code == 409
        assert response.json()["detail"] == (
            "ignored: no release for environment staging on commit aaaaaaaaaaaa "
            "(Payments 4.0.0 deploys to production)."
        )
        assert Release.objects.get(pk=release.pk).status == Status.APPROVED

    def test_a_report_for_a_mapped_environment_moves_the_release(self, cast, client_for):
        client_for("rita").put(URL, {"deploy_environments": {"prod": "production"}}, format="json")
        release = make_approved(make_release(cast, "4.0.0"), cast)
        ci = bearer(project_token(cast, name="deployer"))

        response = ci.post(
            f"/api/releases/{release.pk}/deploy-reports/",
            {"stage": "started", "environment": "prod"},
        )

        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "deploying"

    def test_a_cancelled_deploy_returns_the_release_to_approved(self, cast):
        release = make_deploying(make_release(cast, "4.0.0"), cast)
        ci = bearer(project_token(cast, name="deployer"))

        response = ci.post(
            f"/api/releases/{release.pk}/deploy-reports/",
            {"stage": "cancelled", "detail": "pipeline 88 cancelled"},
        )

        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "approved"
        assert response.json()["deploy_cancelled_at"] is not None
        assert response.json()["deploy_started_at"] is None
        release.refresh_from_db()
        assert release.deploy_started_at is None
        assert release.events.get(verb="deploy_cancelled").summary == (
            "Deploy cancelled; back to approved (pipeline 88 cancelled)"
        )

    def test_a_cancel_without_a_deploy_under_way_is_refused(self, cast):
        release = make_approved(make_release(cast, "4.0.0"), cast)
        ci = bearer(project_token(cast, name="deployer"))

        response = ci.post(f"/api/releases/{release.pk}/deploy-reports/", {"stage": "cancelled"})

        assert response.status_code == 409
        assert response.json()["detail"] == (
            "Only a deploy under way can be cancelled; the release is approved."
        )
