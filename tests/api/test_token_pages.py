"""The pages where people make and revoke tokens: the secret is shown once, then never."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from releases.models import ApiToken
from releases.services.tokens import create_api_token
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def secret_in(html: str) -> str:
    match = re.search(r'<code id="new-token">(glt_[^<]+)</code>', html)
    assert match, "the new token is shown"
    return match.group(1)


def test_it_shows_a_new_personal_token_once(cast):
    page = logged_in(cast.dana)

    created = page.post("/me/tokens/", {"name": "laptop"})

    assert created.status_code == 200
    assert created["Cache-Control"].startswith("max-age=0")
    secret = secret_in(created.content.decode())
    assert bearer(secret).get("/api/projects/").status_code == 200
    later = page.get("/me/tokens/").content.decode()
    assert "laptop" in later
    assert secret not in later
    assert secret[:12] in later  # the prefix, to tell tokens apart


def test_it_records_and_shows_when_a_token_was_last_used(cast):
    token, secret = create_api_token(by=cast.dana, name="cron")
    page = logged_in(cast.dana)
    assert "never" in page.get("/me/tokens/").content.decode()

    bearer(secret).get("/api/releases/")

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "ago" in page.get("/me/tokens/").content.decode()


def test_it_revokes_my_token(cast):
    token, secret = create_api_token(by=cast.dana, name="laptop")

    response = logged_in(cast.dana).post(f"/me/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    assert bearer(secret).get("/api/projects/").status_code == 401
    assert "revoked" in logged_in(cast.dana).get("/me/tokens/").content.decode()


def test_it_lets_no_one_else_see_or_revoke_a_personal_token(cast):
    token, secret = create_api_token(by=cast.dana, name="dana-workstation")

    assert "dana-workstation" not in logged_in(cast.rita).get("/me/tokens/").content.decode()
    assert logged_in(cast.rita).post(f"/me/tokens/{token.pk}/revoke/").status_code == 404
    assert bearer(secret).get("/api/projects/").status_code == 200


def test_it_refuses_a_blank_name_and_makes_nothing(cast):
    response = logged_in(cast.dana).post("/me/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_lets_release_managers_make_a_project_token_for_ci(cast, release):
    page = logged_in(cast.rita)

    created = page.post("/projects/payments/tokens/", {"name": "github-actions"})

    secret = secret_in(created.content.decode())
    token = ApiToken.objects.get(name="github-actions")
    assert token.kind == "project"
    assert token.project == cast.project
    assert token.created_by == cast.rita
    ci = bearer(secret)
    assert ci.get(f"/api/releases/{release.pk}/").status_code == 200
    assert ci.post(f"/api/releases/{release.pk}/lock-scope/").status_code == 403

    page.post(f"/projects/payments/tokens/{token.pk}/revoke/")
    assert ci.get(f"/api/releases/{release.pk}/").status_code == 401


@pytest.mark.parametrize(("who", "status"), [("paul", 403), ("vic", 403), ("otto", 404)])
def test_it_keeps_project_tokens_to_the_release_managers(cast, who, status):
    token, _ = create_api_token(by=cast.rita, name="ci", project=cast.project)
    page = logged_in(getattr(cast, who))

    assert page.get("/projects/payments/tokens/").status_code == status
    assert page.post("/projects/payments/tokens/", {"name": "mine"}).status_code == status
    assert page.post(f"/projects/payments/tokens/{token.pk}/revoke/").status_code == status
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiToken.objects.count() == 1


def test_it_sends_anonymous_visitors_to_log_in(cast):
    response = Client().get("/me/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
