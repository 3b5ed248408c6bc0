"""Project settings: the deploy environments, CI's environment names → release environments."""

from __future__ import annotations

import pytest
from django.urls import reverse

from releases.models import Project
from tests.html import client_for

pytestmark = pytest.mark.django_db


def save(cast, who, text: str):
    return client_for(who).post(
        reverse("environments_save", args=[cast.project.slug]), {"env-deploy_environments": text}
    )


def test_it_saves_the_mapping_and_shows_it(cast):
    response = save(cast, cast.rita, "prod = production\nProduction=production\n\ngithub-pages =")

    assert response.status_code == 302
    assert Project.objects.get(pk=cast.project.pk).deploy_environments == {
        "github-pages": "",
        "prod": "production",
        "production": "production",
    }
    page = client_for(cast.vic).get(reverse("project_settings", args=[cast.project.slug]))
    html = page.content.decode()
    assert '<th scope="row">prod</th><td>production</td>' in html
    assert '<th scope="row">github-pages</th><td>none: deploys there move no release</td>' in html
    assert 'action="/projects/payments/settings/environments/"' not in html


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("prod production", "Line 1: write “CI name = environment”."),
        ("prod = production\nPROD = staging", "Line 2: “PROD” is listed twice."),
        ("= production", "Every line needs CI&#x27;s environment name before “=”."),
    ],
)
def test_a_bad_line_shows_its_error_and_saves_nothing(cast, text, error):
    response = save(cast, cast.rita, text)

    assert response.status_code == 422
    assert error in response.content.decode()
    assert Project.objects.get(pk=cast.project.pk).deploy_environments == {}


def test_only_release_managers_change_it(cast):
    response = save(cast, cast.dana, "prod = production")

    assert response.status_code == 403
    assert Project.objects.get(pk=cast.project.pk).deploy_environments == {}
