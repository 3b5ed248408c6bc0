"""Clients for the named cast, a project token of this project and one of another project."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from releases.services.projects import create_project
from releases.services.tokens import create_api_token
from tests.builders import Cast, make_user, sessions, signed_in

PRINCIPALS = (
    "rita",
    "paul",
    "quinn",
    "dana",
    "devin",
    "vic",
    "otto",
    "anonymous",
    "foreign_token",
    "own_token",
)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def project_token(cast: Cast, name: str = "deploy-bot") -> str:
    _, secret = create_api_token(by=cast.rita, name=name, project=cast.project)
    return secret


def foreign_token() -> str:
    """A project token of another project, whose own release manager made it."""

    owner = make_user("ursula")
    other = create_project(name="Shipping", slug="shipping", by=owner)
    _, secret = create_api_token(by=owner, name="shipping-ci", project=other)
    return secret


@pytest.fixture
def client_for(cast: Cast) -> Callable[[str], APIClient]:
    def make(who: str) -> APIClient:
        if who == "anonymous":
            return APIClient()
        if who == "own_token":
            return bearer(project_token(cast))
        if who == "foreign_token":
            return bearer(foreign_token())
        (session,) = sessions(getattr(cast, who))
        return signed_in(APIClient(), session)

    return make
