"""Refusals, missing pages and server errors are drawn in the site's layout, as in production
(DEBUG off): a 403 says the rule's sentence, a 404 and a 500 say what happened and lead back."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, reverse

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.releases.test_error_pages")]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), path("", include("config.urls"))]

LAYOUT = 'class="topbar"'


@pytest.fixture(autouse=True)
def _production(settings) -> None:
    settings.DEBUG = False


def test_it_draws_a_refusal_in_the_layout_with_the_rules_sentence(cast):
    client = Client()
    client.force_login(cast.devin)

    response = client.get(reverse("integration_create", args=["payments"]))

    assert response.status_code == 403
    html = response.content.decode()
    assert LAYOUT in html
    assert "Only DevOps and the project&#x27;s release managers configure integrations" in html
    assert 'href="/"' in html


def test_it_draws_a_missing_page_in_the_layout(cast):
    client = Client()
    client.force_login(cast.rita)

    response = client.get("/releases/999999/")

    assert response.status_code == 404
    html = response.content.decode()
    assert LAYOUT in html
    assert "Page not found" in html
    # The signed-in person keeps their navigation.
    assert "Dashboard" in html
    assert "Log out" in html


def test_it_draws_a_server_error_in_the_layout_without_details(cast):
    client = Client(raise_request_exception=False)
    client.force_login(cast.rita)

    response = client.get("/boom/")

    assert response.status_code == 500
    html = response.content.decode()
    assert LAYOUT in html
    assert "Something went wrong" in html
    assert "a bug" not in html
    assert "RuntimeError" not in html
