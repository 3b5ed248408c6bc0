"""DevOps connect CI and monitoring, in the pages and the API; release managers too; the rest of
the project reads. Credentials go in and never come out, whoever reads."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from monitoring.models import Check, Integration
from monitoring.services.integrations import save_integration

pytestmark = pytest.mark.django_db

TOKEN = "ghp_DevOpsOnlyWrites01"
REFUSAL = "Only DevOps and the project's release managers configure integrations and checks."


def page_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def github_form(**overrides: str) -> dict[str, str]:
    return {
        "name": "GitHub",
        "kind": "github",
        "enabled": "on",
        "base_url": "",
        "config__repo": "example/payments",
        "secret__token": TOKEN,
        "secret__webhook_secret": "",
        **overrides,
    }


@pytest.fixture
def github(cast) -> Integration:
    return save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        config={"repo": "example/payments"},
        secrets={"token": TOKEN},
    )


def test_it_lets_devops_add_an_integration_in_the_page(cast):
    dana = page_for(cast.dana)

    form = dana.get(reverse("integration_create", args=["payments"]) + "?kind=github")
    created = dana.post(reverse("integration_create", args=["payments"]), github_form())

    assert form.status_code == 200
    assert created.status_code == 302
    integration = Integration.objects.get(project=cast.project, name="GitHub")
    assert integration.secrets() == {"token": TOKEN}
    edit = dana.get(created["Location"])
    assert edit.status_code == 200
    assert TOKEN not in edit.text
    listing = dana.get(reverse("integration_list", args=["payments"]))
    assert reverse("integration_create", args=["payments"]) in listing.text


def test_it_lets_devops_add_a_check_in_the_page(cast, github):
    dana = page_for(cast.dana)

    response = dana.post(
        reverse("check_template_create", args=["payments"]),
        {
            "name": "Build green",
            "integration": str(github.pk),
            "phase": "pre_release",
            "required": "on",
            "param__check_name": "build",
            "comparator": "",
            "threshold": "",
            "stabilisation_seconds": "0",
            "interval_seconds": "60",
            "hold_seconds": "0",
            "timeout_seconds": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Check.objects.filter(project=cast.project, name="Build green").exists()


def test_it_lets_devops_configure_integrations_and_checks_through_the_api(cast):
    dana = api_for(cast.dana)

    created = dana.post(
        "/api/projects/payments/integrations/",
        {
            "name": "GitHub",
            "kind": "github",
            "config": {"repo": "acme/payments"},
            "secrets": {"token": TOKEN},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    integration = created.json()["id"]
    check = dana.post(
        "/api/projects/payments/checks/",
        {"integration": integration, "name": "Build green", "phase": "pre_release"},
        format="json",
    )
    renamed = dana.patch(
        f"/api/projects/payments/integrations/{integration}/", {"name": "GitHub Actions"}
    )

    assert check.status_code == 201, check.json()
    assert renamed.status_code == 200, renamed.json()
    for response in (created, renamed, dana.get("/api/projects/payments/integrations/")):
        assert TOKEN not in response.content.decode()


@pytest.mark.parametrize("who", ["devin", "vic", "paul", "quinn"])
def test_it_lets_the_rest_of_the_project_read_but_not_configure(cast, github, who):
    person = getattr(cast, who)
    page, api = page_for(person), api_for(person)

    listing = page.get(reverse("integration_list", args=["payments"]))
    listed = api.get("/api/projects/payments/integrations/")
    new_page = page.get(reverse("integration_create", args=["payments"]))
    posted = page.post(
        reverse("integration_edit", args=["payments", github.pk]), github_form(name="Hijacked")
    )
    patched = api.patch(
        f"/api/projects/payments/integrations/{github.pk}/", {"name": "Hijacked"}, format="json"
    )

    assert listing.status_code == 200
    assert "GitHub" in listing.text
    assert TOKEN not in listing.text
    assert listed.status_code == 200
    assert TOKEN not in listed.content.decode()
    assert reverse("integration_create", args=["payments"]) not in listing.text
    for refused in (new_page, posted):
        assert refused.status_code == 403
        assert REFUSAL in unescape(refused.content.decode())
    assert patched.status_code == 403
    assert patched.json() == {"detail": REFUSAL}
    assert Integration.objects.get(pk=github.pk).name == "GitHub"
