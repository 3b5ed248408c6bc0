"""Integrations and checks over the API: credentials go in and never come out."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import Check, CheckStatus, Integration
from monitoring.services.integrations import save_integration
from releases.services.projects import create_project
from tests.api.conftest import bearer, project_token

pytestmark = pytest.mark.django_db

SECRET = "ghp_7Xq1secretvalue"


@pytest.fixture
def rita(cast) -> APIClient:
    client = APIClient()
    client.force_login(cast.rita)
    return client


def create_github(rita: APIClient) -> dict:
    response = rita.post(
        "/api/projects/payments/integrations/",
        {
            "name": "GitHub",
            "kind": "github",
            "config": {"repo": "acme/payments"},
            "secrets": {"token": SECRET},
        },
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_stores_credentials_encrypted_and_never_returns_them(cast, rita):
    created = create_github(rita)

    assert created["stored_secrets"] == ["token"]
    assert "secrets" not in created
    listed = rita.get("/api/projects/payments/integrations/")
    detail = rita.get(f"/api/projects/payments/integrations/{created['id']}/")
    for response in (listed, detail):
        assert SECRET not in response.content.decode()
    integration = Integration.objects.get(pk=created["id"])
    assert SECRET not in integration.secrets_encrypted
    assert integration.secrets() == {"token": SECRET}


def test_it_keeps_stored_credentials_when_a_change_leaves_them_out(cast, rita):
    created = create_github(rita)
    url = f"/api/projects/payments/integrations/{created['id']}/"

    renamed = rita.patch(url, {"name": "GitHub Actions", "secrets": {"token": ""}})

    assert renamed.status_code == 200, renamed.json()
    assert renamed.json()["name"] == "GitHub Actions"
    assert Integration.objects.get(pk=created["id"]).secrets() == {"token": SECRET}


def test_it_removes_a_credential_only_when_asked(cast, rita):
    response = rita.post(
        "/api/projects/payments/integrations/",
        {"name": "Health", "kind": "http_health", "secrets": {"token": "h"}},
    )
    url = f"/api/projects/payments/integrations/{response.json()['id']}/"

    cleared = rita.patch(url, {"clear_secrets": ["token"]})

    assert cleared.json()["stored_secrets"] == []
    assert Integration.objects.get(pk=response.json()["id"]).secrets() == {}


def test_it_answers_field_errors_for_bad_settings_and_saves_nothing(cast, rita):
    count = Integration.objects.count()
    response = rita.post(
        "/api/projects/payments/integrations/",
        {
            "name": "Broken",
            "kind": "github",
            "base_url": "ftp://files.example.com",
            "config": {"nope": "x"},
        },
    )
    assert response.status_code == 400
    errors = response.json()
    assert {"base_url", "config.nope", "config.repo", "secrets.token"} <= set(errors)
    assert Integration.objects.count() == count


def test_it_refuses_to_delete_an_integration_that_releases_read(cast, release, rita):
    response = rita.delete(f"/api/projects/payments/integrations/{cast.ci.pk}/")
    assert response.status_code == 409
    assert "disable it instead" in response.json()["detail"]
    assert Integration.objects.filter(pk=cast.ci.pk).exists()


def test_it_adds_a_check_to_a_release_and_reads_it(cast, release, rita):
    response = rita.post(
        f"/api/releases/{release.pk}/checks/",
        {"name": "Staging smoke", "integration": cast.ci.pk, "hold_seconds": 60},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["counts_as_passing"] is False
    assert release.events.filter(verb="check_added").exists()


def test_it_accepts_only_this_projects_integrations_for_a_check(cast, release, rita):
    other = save_integration(cast.project, by=cast.rita, name="Spare", kind="push")
    Integration.objects.filter(pk=other.pk).update(project=_other_project())
    response = rita.post(
        f"/api/releases/{release.pk}/checks/", {"name": "Foreign", "integration": other.pk}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["integration"]


def _other_project():
    return create_project(name="Shipping", slug="shipping", by=None)


def test_it_lets_a_person_judge_a_check_that_needs_judgement(cast, release):
    check = release.checks.get(name="CI green")
    ci = bearer(project_token(cast))
    ci.post(
        f"/api/releases/{release.pk}/checks/{check.pk}/results/",
        {"status": "needs_judgement", "detail": "No runs for this commit"},
    )
    quinn = APIClient()
    quinn.force_login(cast.quinn)

    judged = quinn.post(
        f"/api/releases/{release.pk}/checks/{check.pk}/judge/",
        {"passed": True, "reason": "Ran the suite by hand, all green"},
    )
    again = quinn.post(
        f"/api/releases/{release.pk}/checks/{check.pk}/judge/",
        {"passed": False, "reason": "Changed my mind"},
    )

    assert judged.status_code == 200, judged.json()
    assert judged.json()["status"] == CheckStatus.PASSING
    assert again.status_code == 409
    history = ci.get(f"/api/releases/{release.pk}/checks/{check.pk}/results/").json()["results"]
    assert [(r["status"], r["source"], r["judged_by"]) for r in history[:2]] == [
        ("passing", "judgement", "quinn"),
        ("needs_judgement", "api", None),
    ]


def test_it_never_counts_a_failing_result_as_passing(cast, release):
    check = release.checks.get(name="CI green")
    ci = bearer(project_token(cast))
    response = ci.post(
        f"/api/releases/{release.pk}/checks/{check.pk}/results/",
        {"status": "failing", "value": "3 tests failed"},
    )
    assert response.json()["counts_as_passing"] is False
    readiness = ci.get(f"/api/releases/{release.pk}/readiness/").json()
    assert any(b["kind"] == "check" for b in readiness["blockers"])
    assert Check.objects.get(pk=check.pk).status == "failing"
